"""The grace-period gate: softack inside a LiveKit ``AgentSession`` (livekit-agents 1.8.9).

Adding it to an existing agent changes two lines::

    from softack.gate import SoftAckAgent, turn_handling

    class Assistant(SoftAckAgent):                      # was: class Assistant(Agent)
        ...

    session = AgentSession(..., turn_handling=turn_handling())   # was: turn_handling={...}

``turn_handling(**options)`` returns the session's turn handling with the interruption options the
gate needs (``interruption_options()``), merged with yours. An agent that already derives from
another ``Agent`` subclass takes ``SoftAckMixin`` first in its bases instead. Backchannels are
reported on the agent: ``agent.on("backchannel", callback)`` (see ``BackchannelEvent``).

How it works. The gate sits in ``Agent.stt_node``, the public hook every STT event passes through
before the framework sees it. While the agent speaks or thinks, the transcript events of a user
utterance are held back and ``BackchannelFilter.decide`` judges the utterance's text as each
interim and final transcript arrives:

- a backchannel ("yeah", "uh-huh") stays held; when the utterance ends it is dropped, so it never
  reaches the interruption logic or the chat context, and a ``backchannel`` event is emitted;
- an interruption ("no stop", "yeah but wait") calls ``session.interrupt()`` at once and releases
  the utterance's held events, in order, so the user's words become their turn;
- with the agent silent, everything passes through untouched.

The framework must not act on voice activity alone meanwhile: ``interruption_options()`` sets
``mode="vad"`` (not LiveKit Cloud's adaptive model), ``min_words=1`` (the framework's VAD
interruption waits for transcript text, which the gate holds back) and
``resume_false_interruption=False`` (the framework never pauses the agent's audio on VAD), so
the agent keeps talking, with no pause and no dip, until the transcript decides.

The agent's own words. Each decision reads the agent's current line split where the caller
began to speak (``AgentContext(said, unsaid)``, built once per user utterance at its voice onset):
the full line from the agent's ``transcription_node``, what had been heard of it from the
transcript LiveKit releases in step with the audio (``TranscriptSynchronizer``, by speaking rate
or by the TTS's word timestamps), recorded by a ``HeardTranscript`` at the end of the session's
transcription output. "yes" right after "Shall I book it?" is then an answer (stop), "yes" mid
explanation a nod. With no line playing (the agent thinking) or no ``HeardTranscript``, no context
is passed. The events carry the decision's ``intent`` and ``context``.

The reply's first audio. A command said while the agent is *thinking* would otherwise hear the
reply start over it until the transcript decides (the reply is often made before the caller
speaks, by preemptive generation, and queued). The gate therefore puts a wrapper on top of
``session.output.audio`` (``_ReplyHold``, an ``AudioOutput`` whose ``next_in_chain`` is the chain
it found, LiveKit's ``TranscriptSynchronizer`` included), set through the public
``session.output.audio`` setter when its ``stt_node`` starts and the agent is not speaking. While
no frame of the current segment has been passed on and the caller's speech is pending judgement
(voice heard, or heard and not yet put into words by a slower STT; no decision yet, or only "wait
for the next words"), the segment's first frame waits
in ``capture_frame``: nothing reaches the outputs below, so there is no ``playback_started``, the
agent stays "thinking" and its paced transcript waits too. A nod releases it (the reply plays,
only later by the wait for the nod's first transcript); the no-transcript limit, counted from the
voice onset, releases it at the latest; an interruption's ``session.interrupt()`` cancels the
capture, so the frame is never heard and the reply never enters the chat context. It holds only
what has not begun: once a frame of a segment is out, the rest flows. Where the wrapper cannot be
installed cleanly, replies play at once, as before: a session with no audio output; an output
chain replaced after the session started (``session.output.audio = ...`` drops the wrapper; the
gate puts it back only when a new ``stt_node`` starts, e.g. after a handoff); the agent speaking
whenever the gate starts (installed when it next listens); ``hold_reply_audio=False``. Speech whose
voice onset VAD reports only after the first frame has gone out (VAD needs ``min_speech_duration``
of voice, ~50-80 ms) is not held for either.

Two safety valves keep a user from being ignored: speech heard for ``no_transcript_timeout``
seconds with no transcript at all (a failed STT) interrupts; and a backchannel held when the agent
stops on its own, or one that ended less than ``answer_window`` seconds before that (a "yeah" to
the agent's closing question), is released as the user's turn.

An STT that misbehaves leaves nothing behind: a late interim of words already final is dropped; a
turn whose last interim never became final is closed when the STT ends the utterance or the user
speaks again, and that interim is retracted from the framework (an empty interim), so it can
neither swallow the next utterance unjudged nor let voice alone stop the agent; backchannels still
held when the stream ends (the STT failed and the session opens a new one, or the session closes)
are reported, not dropped without a word.

All state is per ``stt_node`` run, which is per session: nothing is shared between sessions or
carried from one user utterance to the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit import rtc
from livekit.agents import stt
from livekit.agents.voice import Agent, AgentSession, ModelSettings
from livekit.agents.voice.io import AudioOutput, AudioOutputCapabilities, TextOutput

from .context import AgentContext
from .decision import FILTERED_AGENT_STATES, Action, BackchannelFilter, Decision, Intent, default_filter
from .normalize import normalize
from .onnx_model import ModelLoadError

logger = logging.getLogger("softack")

__all__ = [
    "BackchannelEvent",
    "DecisionEvent",
    "HeardTranscript",
    "InterruptionEvent",
    "SoftAckAgent",
    "SoftAckMixin",
    "interruption_options",
    "turn_handling",
]

GateEvent = Literal["backchannel", "interruption", "decision"]

_TRANSCRIPT_EVENTS = frozenset(
    {
        stt.SpeechEventType.INTERIM_TRANSCRIPT,
        stt.SpeechEventType.PREFLIGHT_TRANSCRIPT,
        stt.SpeechEventType.FINAL_TRANSCRIPT,
    }
)


# ------------------------------------------------------------------------------ session options


def interruption_options(**overrides: Any) -> dict[str, Any]:
    """The session's interruption options for the gate (``InterruptionOptions`` in
    ``livekit.agents.voice.turn``).

    ``mode="vad"`` so the gate, not LiveKit Cloud's adaptive detector, decides; ``min_words=1``
    so voice activity alone never stops the agent (the gate holds the words back until it has
    decided); ``resume_false_interruption=False`` and ``false_interruption_timeout=None`` so the
    framework never pauses the agent's audio on VAD.

    Args:
        overrides: any ``InterruptionOptions`` key, e.g. ``min_duration=0.3``.
    """
    options: dict[str, Any] = {
        "enabled": True,
        "mode": "vad",
        "min_words": 1,
        "resume_false_interruption": False,
        "false_interruption_timeout": None,
    }
    options.update(overrides)
    if options.get("min_words", 0) < 1:
        logger.warning("min_words < 1 lets VAD alone interrupt the agent before the gate decides")
    return options


# AgentSession's deprecated keyword arguments, which it ignores once ``turn_handling=`` is passed:
# turn_handling() takes them instead and puts each where TurnHandlingOptions keeps it
_DEPRECATED_ENDPOINTING = {"min_endpointing_delay": "min_delay", "max_endpointing_delay": "max_delay"}
_DEPRECATED_INTERRUPTION = {
    "min_interruption_words": "min_words",
    "min_interruption_duration": "min_duration",
    "false_interruption_timeout": "false_interruption_timeout",
    "agent_false_interruption_timeout": "false_interruption_timeout",
    "resume_false_interruption": "resume_false_interruption",
    "discard_audio_if_uninterruptible": "discard_audio_if_uninterruptible",
}
_TURN_HANDLING_KEYS = frozenset(
    {"turn_detection", "endpointing", "interruption", "preemptive_generation", "user_turn_limit"}
)
# the options whose values would take the decision away from the gate: a user value is refused
_GATE_REQUIRES = {
    "mode": ("vad", "LiveKit Cloud's adaptive detector would decide, not the gate"),
    "enabled": (True, "interruptions off: nothing for the gate to decide"),
    "resume_false_interruption": (False, "voice alone would pause the agent's audio"),
}

_realtime_warned = False


def _warn_realtime_once() -> None:
    global _realtime_warned
    if _realtime_warned:
        return
    _realtime_warned = True
    logger.warning(
        "softack: the session's LLM is a realtime model; the gate stands aside. A realtime model "
        "hears the caller's audio itself and its server decides the turns, so there is no "
        "transcript to hold before it acts (and softack's interruption options would make "
        "LiveKit switch the model's own turn detection off): create this session with "
        "turn_handling(llm=<the model>), which leaves its turn handling alone"
    )


def turn_handling(*, llm: Any = None, **options: Any) -> dict[str, Any]:
    """``AgentSession(turn_handling=...)`` with the gate's interruption options, merged with yours.

    Your settings are merged, not replaced: pass the ``TurnHandlingOptions`` keys
    (``turn_detection``, ``endpointing``, ``interruption``, ``preemptive_generation``,
    ``user_turn_limit``) or ``AgentSession``'s deprecated keyword arguments (``turn_detection=``,
    ``min_endpointing_delay=``, ``max_endpointing_delay=``, ``min_interruption_words=``,
    ``min_interruption_duration=``, ``preemptive_generation=``, ...), which ``AgentSession``
    silently ignores once ``turn_handling=`` is given: move them here. Your values win, except
    those that would take the decision from the gate (``mode`` other than "vad",
    ``enabled=False``, ``resume_false_interruption=True``, ``min_words`` < 1): those raise
    ``ValueError`` naming the argument. An unknown argument raises ``TypeError``.

    Args:
        llm: the session's LLM, if you want ``turn_handling`` to check it: a realtime model gets
            your options back untouched (the gate cannot run on one; see ``SoftAckMixin``).
        options: the keys and arguments above.
    """
    handling: dict[str, Any] = {}
    interruption: dict[str, Any] = {}
    endpointing: dict[str, Any] = {}
    for name, value in options.items():
        if name in _DEPRECATED_ENDPOINTING:
            endpointing[_DEPRECATED_ENDPOINTING[name]] = value
        elif name in _DEPRECATED_INTERRUPTION:
            interruption[_DEPRECATED_INTERRUPTION[name]] = (name, value)
        elif name == "allow_interruptions":
            interruption["enabled"] = (name, bool(value))
        elif name == "preemptive_generation" and isinstance(value, bool):
            handling[name] = {"enabled": value}
        elif name == "interruption":
            for key, v in dict(value or {}).items():
                interruption[key] = (f"interruption[{key!r}]", v)
        elif name == "endpointing":
            endpointing.update(dict(value or {}))
        elif name in _TURN_HANDLING_KEYS:
            handling[name] = value
        else:
            raise TypeError(f"turn_handling() got an unexpected argument {name!r}")
    if endpointing:
        handling["endpointing"] = endpointing
    if llm is not None and _is_realtime(llm):
        _warn_realtime_once()
        if interruption:
            handling["interruption"] = {key: v for key, (_, v) in interruption.items()}
        return handling
    for key, (name, value) in interruption.items():
        required = _GATE_REQUIRES.get(key)
        if required is not None and value != required[0]:
            raise ValueError(f"turn_handling({name}={value!r}): {required[1]}; the gate needs {required[0]!r}")
        if key == "min_words" and (value is None or value < 1):
            raise ValueError(
                f"turn_handling({name}={value!r}): voice alone would stop the agent before the gate "
                "decides; the gate needs min_words >= 1"
            )
    handling["interruption"] = interruption_options(**{key: v for key, (_, v) in interruption.items()})
    return handling


def _is_realtime(model: Any) -> bool:
    from livekit.agents import llm as lk_llm

    return isinstance(model, lk_llm.RealtimeModel)


# ----------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class BackchannelEvent:
    """The user said a backchannel while the agent spoke; it was kept out of the conversation.

    Attributes:
        transcript: what the STT wrote.
        decision: the decision that kept it out.
        started_at: wall-clock time the first transcript of the utterance arrived.
        ended_at: wall-clock time the utterance ended (its final transcript, or the user's silence).
        created_at: when the event was emitted (after ``answer_window`` had passed).

    ``intent`` (always ``Intent.BACKCHANNEL``) and ``context`` (the agent's line as the caller had
    heard it when they began to speak, or None) are the decision's.
    """

    transcript: str
    decision: Decision
    started_at: float
    ended_at: float
    created_at: float = field(default_factory=time.time)

    @property
    def intent(self) -> Intent:
        return self.decision.intent

    @property
    def context(self) -> AgentContext | None:
        return self.decision.context


@dataclass(frozen=True)
class InterruptionEvent:
    """The gate stopped the agent.

    Attributes:
        transcript: the utterance's text so far ("" when no text came).
        reason: "decision" (the filter said interrupt) or "no_transcript" (speech with no text for
            ``no_transcript_timeout``).
        decision: the decision, for ``reason == "decision"``.
        context: the agent's line split where the caller began to speak (``said``: what they had
            heard, ``unsaid``: the rest), as the decision read it; None when no line was known
            (the agent was thinking, or nothing of its line had been heard yet).
        created_at: when the gate called ``session.interrupt()``.

    ``intent`` is why the caller spoke (``softack.Intent``: ``ANSWER``, ``STOP_REQUEST``,
    ``HOLD_REQUEST``, ``CANT_HEAR``, ...); ``TAKES_TURN`` for ``reason == "no_transcript"``.
    """

    transcript: str
    reason: Literal["decision", "no_transcript"]
    decision: Decision | None
    context: AgentContext | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def intent(self) -> Intent:
        return self.decision.intent if self.decision is not None else Intent.TAKES_TURN


@dataclass(frozen=True)
class DecisionEvent:
    """One decision on a transcript (every interim and final while the gate was judging).

    Attributes:
        transcript: the utterance's text so far.
        final: whether it was made on a final transcript.
        agent_state: the agent's state at that moment.
        decision: the decision.
        duration: seconds ``decide`` took.
        model_failures: how many decisions of this filter so far fell back to interrupting because
            the model raised (``BackchannelFilter.model_failures``); a rising count means the model
            is down and every undecided utterance stops the agent.
        created_at: wall-clock time of the decision.

    ``intent`` and ``context`` are the decision's (see ``InterruptionEvent``).
    """

    transcript: str
    final: bool
    agent_state: str
    decision: Decision
    duration: float
    model_failures: int = 0
    created_at: float = field(default_factory=time.time)

    @property
    def intent(self) -> Intent:
        return self.decision.intent

    @property
    def context(self) -> AgentContext | None:
        return self.decision.context


# ------------------------------------------------------------------------- the agent's own words


@dataclass
class _Line:
    """One line of the agent's, in full, as its ``transcription_node`` passed it on."""

    started_at: float
    text: str = ""


@dataclass
class _Segment:
    """The words of one playback segment released as the caller hears them."""

    started_at: float
    text: str = ""
    marks: list[tuple[float, int]] = field(default_factory=list)  # (when, len(text) by then)
    ended_at: float | None = None

    def heard_at(self, t: float) -> str:
        n = 0
        for at, length in self.marks:
            if at > t:
                break
            n = length
        return self.text[:n]


class HeardTranscript(TextOutput):
    """The agent's words as the caller hears them: put it after LiveKit's ``TranscriptSynchronizer``.

    LiveKit releases the agent's transcript in step with the audio played (``TranscriptSynchronizer``:
    by a speaking-rate estimate, or by the TTS's word timestamps when ``use_tts_aligned_transcript``
    is on). This text output records those releases, so the gate knows what of the agent's current
    line the caller had heard at the moment they began to speak. With a room, pass it as the
    transcription's next output::

        from livekit.agents import room_io
        await session.start(agent, room=ctx.room, room_options=room_io.RoomOptions(
            text_output=room_io.TextOutputOptions(next_in_chain=HeardTranscript())))

    The gate finds it by walking ``session.output.transcription``'s chain. Without one (no room,
    ``sync_transcription=False``), decisions are made without the agent's line, as before.

    Args:
        next_in_chain: a text output to pass everything on to.
    """

    def __init__(self, *, next_in_chain: TextOutput | None = None) -> None:
        super().__init__(label="softack.HeardTranscript", next_in_chain=next_in_chain)
        self._lines: deque[_Line] = deque(maxlen=8)
        self._segments: deque[_Segment] = deque(maxlen=8)
        self._open: _Segment | None = None

    def begin_line(self) -> _Line:
        """A new line of the agent's starts (called by the gate's ``transcription_node``)."""
        line = _Line(started_at=time.time())
        self._lines.append(line)
        return line

    async def capture_text(self, text: str) -> None:
        now = time.time()
        seg = self._open
        if seg is None:
            seg = self._open = _Segment(started_at=now)
            self._segments.append(seg)
        seg.text += text
        seg.marks.append((now, len(seg.text)))
        if self.next_in_chain is not None:
            await self.next_in_chain.capture_text(text)

    def flush(self) -> None:
        if self._open is not None:
            self._open.ended_at = time.time()
            self._open = None
        if self.next_in_chain is not None:
            self.next_in_chain.flush()

    def heard(self, at: float) -> tuple[str, str] | None:
        """(said, unsaid) of the line being played at wall-clock time ``at``: what the caller had
        heard of it by then, and the rest of it (as far as it is known); None when no line was
        playing or none of it had been heard yet."""
        seg = next((s for s in reversed(self._segments) if s.started_at <= at), None)
        if seg is None or (seg.ended_at is not None and seg.ended_at <= at):
            return None
        said = seg.heard_at(at)
        if not said.strip():
            return None
        line = next((ln for ln in reversed(self._lines) if ln.started_at <= seg.started_at), None)
        full = line.text if line is not None and line.text.strip() else seg.text
        if full.startswith(said):
            unsaid = full[len(said) :]
        else:
            # the transcript was rewritten on its way (a transcription_node of the user's): by words
            unsaid = " ".join(full.split()[len(said.split()) :])
        return said.strip(), unsaid.strip()


def _find_heard(session: Any) -> HeardTranscript | None:
    """The ``HeardTranscript`` in the session's transcription output chain, if any."""
    try:
        out = session.output.transcription
    except Exception:
        return None
    seen = 0
    while out is not None and seen < 16:
        if isinstance(out, HeardTranscript):
            return out
        out = out.next_in_chain
        seen += 1
    return None


# ------------------------------------------------------------------ the reply's first audio, held


class _ReplyHold(AudioOutput):
    """The top of ``session.output.audio``: holds the first frame of each segment of the agent's
    audio while the gate has user speech pending judgement.

    The agent's reply can be ready before the caller speaks (preemptive generation) and is queued,
    so the hold sits where its audio meets the output, not in ``tts_node``: the frame waits in
    ``capture_frame`` (the framework's forwarding task waits with it) until the gate has judged
    the speech, or the gate's no-transcript limit has passed since the caller's voice began. Until
    then nothing of the segment has reached the outputs below (LiveKit's
    ``TranscriptSynchronizer``, the loudspeaker): no ``playback_started``, so the agent stays
    "thinking" and its transcript waits too. A nod releases the frame and the reply plays; an
    interruption's ``session.interrupt()`` cancels the forwarding task in the wait, so the frame is
    dropped as if it had never come. Once a frame of the segment has been passed on, nothing more of
    it is held.
    """

    def __init__(self, next_in_chain: AudioOutput) -> None:
        super().__init__(
            label="softack.ReplyHold",
            capabilities=AudioOutputCapabilities(pause=True),
            next_in_chain=next_in_chain,
        )
        self._gate: _Gate | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._capturing = False
        # (held from, held until, outcome) per hold, wall-clock: what it cost; outcome is "judged"
        # (released), "timeout" (released) or "dropped" (the interruption cancelled the capture)
        self.holds: deque[tuple[float, float, str]] = deque(maxlen=32)

    @property
    def sample_rate(self) -> int | None:
        nxt = self.next_in_chain
        return nxt.sample_rate if nxt is not None else None

    def bind(self, gate: _Gate | None) -> None:
        """The gate whose judgement holds the audio (the current agent's)."""
        self._gate = gate
        self.wake()

    def unbind(self, gate: _Gate) -> None:
        if self._gate is gate:
            self.bind(None)

    def wake(self) -> None:
        """Something the hold depends on changed: a waiting frame checks again."""
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _hold(self) -> None:
        gate = self._gate
        if gate is None or not (gate.reply_interrupted() or gate.awaiting_judgement()):
            return
        started = time.time()
        deadline = gate.judgement_deadline(started)
        outcome = "dropped"  # unless the loop ends: cancelled, the interruption dropped the frame
        try:
            outcome = await self._wait(deadline)
        finally:
            ended = time.time()
            self.holds.append((started, ended, outcome))
            logger.debug("held the agent's first audio %.0f ms: %s", 1e3 * (ended - started), outcome)

    async def _wait(self, deadline: float) -> str:
        """Wait until the speech is judged ("judged") or the deadline ("timeout")."""
        loop = asyncio.get_running_loop()
        while (gate := self._gate) is not None:
            remaining: float | None = None
            if gate.reply_interrupted():
                # never to be played: the framework is about to cancel this capture (LiveKit's
                # own interruption timeout cancels it at the latest), so no deadline
                pass
            elif gate.awaiting_judgement():
                remaining = deadline - time.time()
                if remaining <= 0:
                    return "timeout"
            else:
                # (voice the STT never put into words stops awaiting at the same deadline)
                return "judged" if time.time() < deadline else "timeout"
            # a bare future, not asyncio.wait_for: on Python 3.11 that can swallow the
            # cancellation (the interruption) when a wake-up comes in the same loop iteration
            wakeup = self._wakeup = loop.create_future()
            timer = loop.call_later(remaining, self.wake) if remaining is not None else None
            try:
                await wakeup
            finally:
                if timer is not None:
                    timer.cancel()
                self._wakeup = None
        return "judged"  # the gate is gone (its stream ended): nothing is judging

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        if not self._capturing:
            # a cancellation here (the gate interrupted the agent) drops the frame unseen
            await self._hold()
            self._capturing = True
        await super().capture_frame(frame)
        if self.next_in_chain is not None:
            await self.next_in_chain.capture_frame(frame)

    def flush(self) -> None:
        super().flush()
        self._capturing = False
        if self.next_in_chain is not None:
            self.next_in_chain.flush()

    def clear_buffer(self) -> None:
        if self.next_in_chain is not None:
            self.next_in_chain.clear_buffer()


def _install_reply_hold(session: Any) -> _ReplyHold | None:
    """The session's ``_ReplyHold``, put on top of ``session.output.audio`` if it has none yet.
    None when there is no audio output, or the agent is speaking now (a swap would detach the
    outputs under a playing segment: the caller tries again when the agent is listening)."""
    try:
        out = session.output.audio
    except Exception:
        return None
    cur, depth = out, 0
    while cur is not None and depth < 16:
        if isinstance(cur, _ReplyHold):
            return cur
        cur, depth = cur.next_in_chain, depth + 1
    if out is None:
        return None
    speech = session.current_speech
    if session.agent_state not in ("initializing", "listening") or (speech is not None and not speech.done()):
        return None
    hold = _ReplyHold(out)
    session.output.audio = hold
    return hold


# ------------------------------------------------------------------------------------ agent hook


_rules_only_filter: BackchannelFilter | None = None


def _default_filter() -> BackchannelFilter:
    """The process-wide filter; if its model cannot be loaded, the rules alone, so calls go on
    (a worker should load the model at start to fail fast instead, as runtime/worker.py does)."""
    global _rules_only_filter
    if _rules_only_filter is not None:
        return _rules_only_filter
    try:
        return default_filter()
    except ModelLoadError as e:
        logger.error("%s; running on the soft-ack and keyword rules alone", e)
        _rules_only_filter = BackchannelFilter(classifier=False)
        return _rules_only_filter


class SoftAckMixin:
    """Adds the grace-period gate to an ``Agent`` (put it first in the bases).

    Args:
        backchannel_filter: the decision engine; a process-wide ``BackchannelFilter()`` (lists
            from ``LIVEKIT_SOFT_ACKS`` / ``LIVEKIT_INTERRUPT_KEYWORDS``, the shipped model) when
            None.
        no_transcript_timeout: seconds of user speech over the agent with no transcript after
            which the agent is interrupted anyway (the STT may have failed). None disables it.
        answer_window: a backchannel that ended less than this many seconds before the agent
            stopped speaking on its own is released as the user's turn (an answer to the agent's
            last words, not feedback).
        hold_reply_audio: while no audio of the agent's reply has played and the caller's speech
            is pending judgement, hold the reply's first audio until it is judged (a wrapper on top
            of ``session.output.audio``, installed by the gate); False plays it at once.
        **kwargs: passed on to the next base (``Agent``).

    Events (``agent.on(name, callback)``): ``"backchannel"`` (``BackchannelEvent``),
    ``"interruption"`` (``InterruptionEvent``), ``"decision"`` (``DecisionEvent``).
    """

    def __init__(
        self,
        *args: Any,
        backchannel_filter: BackchannelFilter | None = None,
        no_transcript_timeout: float | None = 2.0,
        answer_window: float = 1.0,
        hold_reply_audio: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hold_reply_audio = hold_reply_audio
        self.backchannel_filter = backchannel_filter if backchannel_filter is not None else _default_filter()
        self.no_transcript_timeout = no_transcript_timeout
        self.answer_window = answer_window
        self._softack_events: rtc.EventEmitter[GateEvent] = rtc.EventEmitter()
        # what outlives one stt_node run (LiveKit rebuilds the node when its STT stream fails)
        self._softack_carry = _Carry()
        self._softack_gate: _Gate | None = None

    def on(self, event: GateEvent, callback: Callable[..., Any] | None = None) -> Any:
        """Register a callback for ``"backchannel"``, ``"interruption"`` or ``"decision"``."""
        return self._softack_events.on(event, callback)

    def off(self, event: GateEvent, callback: Callable[..., Any]) -> None:
        self._softack_events.off(event, callback)

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[stt.SpeechEvent]:
        node = super().stt_node(audio, model_settings)  # type: ignore[misc]
        if asyncio.iscoroutine(node):
            node = await node
        if node is None:
            return
        gate = _Gate(
            session=self.session,  # type: ignore[attr-defined]
            backchannel_filter=self.backchannel_filter,
            no_transcript_timeout=self.no_transcript_timeout,
            answer_window=self.answer_window,
            hold_reply_audio=self.hold_reply_audio,
            emit=self._softack_events.emit,
            agent=self,
            carry=self._softack_carry,
        )
        self._softack_gate = gate
        try:
            async for ev in gate.run(node):
                yield ev
        finally:
            if self._softack_gate is gate:
                self._softack_gate = None

    async def transcription_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterator[str]:
        """Records the agent's line in full for the gate (see ``HeardTranscript``), unchanged."""
        heard = _find_heard(self.session)  # type: ignore[attr-defined]
        line = heard.begin_line() if heard is not None else None
        node = super().transcription_node(text, model_settings)  # type: ignore[misc]
        if asyncio.iscoroutine(node):
            node = await node
        if node is None:
            return
        async for delta in node:
            if line is not None:
                line.text += delta
            yield delta

    async def on_enter(self) -> None:
        llm = getattr(self, "llm", None)
        session = self.session  # type: ignore[attr-defined]
        if not _is_realtime(llm):
            llm = session.llm
        if _is_realtime(llm):
            _warn_realtime_once()
        await super().on_enter()  # type: ignore[misc]


@dataclass
class _Carry:
    """Per agent, what one gate hands to the next when LiveKit rebuilds ``stt_node``."""

    voice_started_at: float | None = None  # the caller's voice onset (VAD), while they speak
    voice_detected_at: float | None = None  # when LiveKit said so (the no-transcript limit counts from it)
    last_onset: float | None = None  # the latest voice onset, kept after the voice ends
    stt_failed: bool = False  # an unrecoverable STT error since the last transcript LiveKit saw


class SoftAckAgent(SoftAckMixin, Agent):
    """``livekit.agents.Agent`` with the grace-period gate. See ``SoftAckMixin`` for the arguments."""


# ------------------------------------------------------------------------------------ the gate


@dataclass
class _Utterance:
    """One user utterance as the STT sees it: its held events and the decision so far."""

    started_at: float
    held: list[Any] = field(default_factory=list)
    finals: list[str] = field(default_factory=list)
    interim: str = ""
    decision: Decision | None = None
    context: AgentContext | None = None  # the agent's line where the caller began: one per utterance
    released: bool = False  # judged a turn: its events go to the framework as they come

    @property
    def text(self) -> str:
        return " ".join(t for t in (*self.finals, self.interim) if t.strip())


@dataclass
class _Swallowed:
    """A backchannel whose events are kept for ``answer_window`` in case the agent stops."""

    utterance: _Utterance
    ended_at: float
    timer: asyncio.TimerHandle | None = None


_END = object()

# seconds after the caller's voice ended that a released utterance may wait for its final
_FINAL_GRACE = 1.0
# seconds after the caller's voice ended that its onset still dates a transcript's words
_ONSET_STALE = 2.0


def _transcript_event(kind: stt.SpeechEventType, text: str) -> stt.SpeechEvent:
    return stt.SpeechEvent(type=kind, alternatives=[stt.SpeechData(language="", text=text)])



class _Gate:
    """The gate for one ``stt_node`` run (one session).

    STT events are read by a task and judged as they come; what the framework should see goes
    into a queue the ``stt_node`` generator yields from. Reading and yielding are decoupled so
    held events can also be released when something else happens: the agent stops speaking, or
    the user speaks with no transcript for too long.
    """

    def __init__(
        self,
        *,
        session: AgentSession,
        backchannel_filter: BackchannelFilter,
        no_transcript_timeout: float | None,
        answer_window: float,
        emit: Callable[..., Any],
        agent: Any = None,
        carry: _Carry | None = None,
        hold_reply_audio: bool = False,
    ) -> None:
        self._session = session
        self._hold_wanted = hold_reply_audio
        self._reply_hold: _ReplyHold | None = None
        self._agent = agent
        self._carry = carry if carry is not None else _Carry()
        # the real end of the caller's latest voice (VAD: its END_OF_SPEECH comes later by the
        # silence it waited for; LiveKit dates the user_state_changed event back to the end)
        self._voice_ended_at: float | None = None
        self._final_timer: asyncio.TimerHandle | None = None
        self._warmup_stop: asyncio.TimerHandle | None = None
        self._filter = backchannel_filter
        self._no_transcript_timeout = no_transcript_timeout
        self._answer_window = answer_window
        self._emit = emit
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._utterance: _Utterance | None = None
        self._swallowed: list[_Swallowed] = []
        self._user_speaking = session.user_state == "speaking"
        # the caller's latest voice has had no transcript event yet (an STT slower than VAD's end
        # of speech): its words are still to be judged, so a reply's first audio keeps waiting.
        # Not ended by the STT's END_OF_SPEECH: some STTs send it before their final.
        self._voice_untranscribed = self._user_speaking
        self._no_text_timer: asyncio.TimerHandle | None = None
        # LiveKit's echo-cancellation warm-up runs from the session's first speech; a gate that
        # starts later (after a handoff) finds it over
        self._warmup_pending = session.agent_state == "initializing"
        self._first_speaking_at: float | None = None
        # the latest final transcript (folded) since the user's voice began, to recognise a late
        # interim of the same words
        self._last_final = ""
        self._closed = False

    # -- the stt_node generator -----------------------------------------------------------------

    def _check_session_options(self) -> None:
        options = getattr(self._session.options, "interruption", None)
        if not options:
            return
        problems = []
        if options.get("mode") != "vad":
            problems.append(f"mode={options.get('mode')!r} (the adaptive detector decides, not the gate)")
        if options.get("min_words", 0) < 1:
            problems.append("min_words=0 (voice alone stops the agent before the gate decides)")
        if options.get("resume_false_interruption") and options.get("false_interruption_timeout") is not None:
            problems.append("resume_false_interruption=True (voice alone pauses the agent's audio)")
        if problems:
            logger.warning(
                "softack gate: the session's interruption options defeat the grace period: %s; "
                "create the session with turn_handling=softack.gate.turn_handling()",
                "; ".join(problems),
            )

    async def run(self, source: AsyncIterable[Any]) -> AsyncIterator[Any]:
        self._check_session_options()
        self._session.on("agent_state_changed", self._on_agent_state)
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("conversation_item_added", self._on_conversation_item)
        self._session.on("error", self._on_session_error)
        self._install_hold()
        if self._user_speaking:
            # a new stream (the last one failed) while the caller speaks: the no-transcript limit
            # still counts from their voice onset
            self._arm_no_text_timer(since=self._carry.voice_detected_at)
        reader = asyncio.create_task(self._read(source), name="softack.gate.read")
        raised = False
        try:
            while True:
                item = await self._out.get()
                if item is _END:
                    break
                yield item
            if not reader.cancelled() and (exc := reader.exception()) is not None:
                raised = True
                raise exc
        finally:
            self._closed = True
            self._session.off("agent_state_changed", self._on_agent_state)
            self._session.off("user_state_changed", self._on_user_state)
            self._session.off("conversation_item_added", self._on_conversation_item)
            self._session.off("error", self._on_session_error)
            if self._reply_hold is not None:
                self._reply_hold.unbind(self)
            self._cancel_no_text_timer()
            self._cancel_final_timer()
            if self._warmup_stop is not None:
                self._warmup_stop.cancel()
            self._report_held_backchannels()
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
            except Exception:
                if not raised:
                    # the framework stopped reading first (a handoff, the session closing): the
                    # STT's error has nobody to go to but the log
                    logger.warning("softack gate: the STT stream failed after its reader stopped", exc_info=True)

    async def _read(self, source: AsyncIterable[Any]) -> None:
        try:
            async for ev in source:
                if isinstance(ev, stt.SpeechEvent):
                    self._on_stt_event(ev)
                    self._wake_hold()
                else:
                    self._forward(ev)
        finally:
            self._out.put_nowait(_END)

    def _forward(self, ev: Any) -> None:
        if not self._closed:
            self._out.put_nowait(ev)

    # -- the reply's first audio ----------------------------------------------------------------

    def _install_hold(self) -> None:
        if not self._hold_wanted or self._reply_hold is not None:
            return
        try:
            hold = _install_reply_hold(self._session)
        except Exception:
            logger.exception("softack gate: could not wrap the session's audio output; its replies are not held")
            self._hold_wanted = False
            return
        if hold is not None:
            self._reply_hold = hold
            hold.bind(self)

    def _wake_hold(self) -> None:
        if self._reply_hold is not None:
            self._reply_hold.wake()

    def reply_interrupted(self) -> bool:
        """The speech being played was interrupted and the framework has not yet cancelled its
        audio: a first frame of it must never play."""
        speech = self._session.current_speech
        return speech is not None and speech.interrupted and not speech.done()

    def awaiting_judgement(self) -> bool:
        """The caller's speech is pending judgement while the agent speaks or thinks: their voice
        is heard, or was and the STT has sent nothing of it yet (within the no-transcript limit
        from its onset), or an utterance is open and no decision has been made on it yet (or only
        "wait for the next words")."""
        if self._closed or self._session.agent_state not in FILTERED_AGENT_STATES:
            return False
        u = self._utterance
        if u is not None and not u.released:
            return u.decision is None or u.decision.action is Action.WAIT
        if u is not None:
            return False
        if self._user_speaking:
            return True
        # the voice is over, but the STT has not spoken of it yet (slower than VAD's end of
        # speech): its words are still to come, until the no-transcript limit from its onset
        onset = self._carry.last_onset
        return self._voice_untranscribed and onset is not None and time.time() < self.judgement_deadline(onset)

    def judgement_deadline(self, now: float) -> float:
        """When the hold gives up (wall-clock): the no-transcript limit from the caller's voice
        onset (from now if none is known)."""
        limit = self._no_transcript_timeout if self._no_transcript_timeout is not None else 2.0
        onset = self._carry.last_onset
        return (onset if onset is not None and onset <= now else now) + limit

    def _report_held_backchannels(self) -> None:
        """The stream is over (the STT failed and the session makes a new one, or the session is
        closing): backchannels still held are reported now, not dropped without a word. Anything
        else held carried no text."""
        u, self._utterance = self._utterance, None
        if u is not None and not u.released and u.decision is not None and u.decision.action is Action.IGNORE:
            self._swallowed.append(_Swallowed(utterance=u, ended_at=time.time()))
        for sw in list(self._swallowed):
            try:
                self._confirm_backchannel(sw)
            except Exception:
                logger.exception("softack gate: a backchannel callback failed")
        self._swallowed.clear()

    # -- STT events -----------------------------------------------------------------------------

    def _on_stt_event(self, ev: stt.SpeechEvent) -> None:
        if ev.type not in _TRANSCRIPT_EVENTS:
            # speech start/end and usage carry no words: in VAD turn detection the framework
            # ignores STT speech events, so they pass at once; END_OF_SPEECH also ends the utterance
            self._forward(ev)
            if ev.type == stt.SpeechEventType.END_OF_SPEECH:
                self._end_utterance()
            return

        self._voice_untranscribed = False  # the utterance's own state says from here on
        text = ev.alternatives[0].text if ev.alternatives else ""
        is_final = ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT
        if not is_final and self._last_final and (folded := normalize(text)) and self._last_final.startswith(folded):
            # a late partial of words the STT has already made final (an out-of-order interim):
            # it adds nothing, and passed on it would stay the framework's current interim, one no
            # final replaces, which would keep an utterance open here and let voice alone (with
            # min_words) stop the agent's next reply
            logger.debug("dropping a stale interim %r (after the final %r)", text, self._last_final)
            return

        u = self._utterance
        if u is None:
            u = self._utterance = self._new_utterance()
        if text.strip() and not u.released:
            self._reset_stt_error_count()
        if is_final:
            if text.strip():
                u.finals.append(text)
                self._last_final = normalize(text)
            u.interim = ""
        else:
            u.interim = text
        if text.strip():
            self._arm_no_text_timer()

        if u.released:
            self._forward(ev)
            if is_final:
                self._cancel_final_timer()
                if not self._user_speaking:
                    self._utterance = None
            return

        u.held.append(ev)
        if not u.text:
            # no words yet (an empty transcript): nothing to judge
            if is_final and not self._user_speaking:
                self._release(u)
                self._utterance = None
            return

        decision = self._decide(u, final=is_final)
        if decision.action is Action.PASS_THROUGH:
            self._release(u)
        elif decision.action is Action.INTERRUPT:
            self._interrupt("decision", u.text, decision, u.context)
            self._release(u)
        elif is_final and not self._user_speaking:
            self._end_utterance()

    def _decide(self, u: _Utterance, *, final: bool) -> Decision:
        state = self._session.agent_state
        started = time.perf_counter()
        decision = self._filter.decide(u.text, state, final=final, context=u.context)
        took = time.perf_counter() - started
        u.decision = decision
        self._emit(
            "decision",
            DecisionEvent(transcript=u.text, final=final, agent_state=state, decision=decision, duration=took,
                          model_failures=self._filter.model_failures),
        )
        return decision

    def _new_utterance(self) -> _Utterance:
        u = _Utterance(started_at=time.time())
        try:
            u.context = self._context_now()
        except Exception:
            logger.exception("softack gate: could not read the agent's line; deciding without it")
        return u

    def _context_now(self) -> AgentContext | None:
        """The agent's current line split where the caller began to speak (their voice onset, as
        VAD dated it), built once per utterance; None when no line was playing then, or none of
        it had been heard (the agent was thinking), or no ``HeardTranscript`` is installed."""
        if self._session.agent_state not in FILTERED_AGENT_STATES:
            return None
        heard = _find_heard(self._session)
        if heard is None:
            return None
        now = time.time()
        onset = self._carry.last_onset
        if onset is None or onset > now or (
            not self._user_speaking
            and (self._voice_ended_at is None or now - self._voice_ended_at > _ONSET_STALE)
        ):
            # words with no voice onset of their own (the STT heard what VAD did not): now
            onset = now
        split = heard.heard(onset)
        if split is None:
            return None
        return self._filter.context(*split)

    def _release(self, u: _Utterance, *, note: str | None = None) -> None:
        """Hand the utterance to the framework: its held events now, later ones as they come."""
        u.released = True
        held, u.held = u.held, []
        if note and held:
            logger.debug("%s; releasing %r as the user's turn", note, u.text)
        for ev in held:
            self._forward(ev)

    def _close_released(self, u: _Utterance) -> None:
        """A released utterance is over while its last interim was never made final (the STT sent
        interims only, or lost the final). Its words are the user's: the interim goes to the
        framework as the final, so an interruption always becomes the user's turn. Only a late
        revision of words already final ("no stuff" after the final "no stop") is retracted
        instead (an empty interim, as a provider does when a partial goes away): passed on, it
        would stay the framework's current interim, and with ``min_words`` let voice alone stop
        the agent's next reply."""
        self._cancel_final_timer()
        if not u.interim:
            return
        text, u.interim = u.interim, ""
        if self._is_revision(text):
            self._forward(_transcript_event(stt.SpeechEventType.INTERIM_TRANSCRIPT, ""))
            return
        logger.debug("the STT never made %r final; passing it on as the user's words", text)
        u.finals.append(text)
        self._forward(_transcript_event(stt.SpeechEventType.FINAL_TRANSCRIPT, text))

    def _is_revision(self, text: str) -> bool:
        folded, last = normalize(text), self._last_final
        if not folded or not last:
            return False
        return last.startswith(folded) or folded.split()[0] == last.split()[0]

    def _arm_final_timer(self) -> None:
        """The caller's voice ended with a released utterance still on an interim: if no final
        comes within ``_FINAL_GRACE`` seconds, nothing will end it, so the gate does."""
        self._cancel_final_timer()
        self._final_timer = asyncio.get_running_loop().call_later(_FINAL_GRACE, self._on_final_timeout)

    def _cancel_final_timer(self) -> None:
        if self._final_timer is not None:
            self._final_timer.cancel()
            self._final_timer = None

    def _on_final_timeout(self) -> None:
        self._final_timer = None
        u = self._utterance
        if self._closed or u is None or not u.released or self._user_speaking:
            return
        self._utterance = None
        self._close_released(u)

    def _end_utterance(self) -> None:
        """The utterance is over: a held backchannel is kept out (after ``answer_window``)."""
        u, self._utterance = self._utterance, None
        if u is None:
            return
        if u.released:
            self._close_released(u)
            return
        if u.decision is not None and u.decision.action is Action.IGNORE:
            sw = _Swallowed(utterance=u, ended_at=self._speech_ended_at())
            self._swallowed.append(sw)
            if self._answer_window > 0:
                sw.timer = asyncio.get_running_loop().call_later(
                    self._answer_window, self._confirm_backchannel, sw
                )
            else:
                self._confirm_backchannel(sw)
        else:
            # nothing was judged (no words): what was held carries no text, let it through
            self._release(u)

    def _speech_ended_at(self) -> float:
        """When the caller's voice really ended: LiveKit's time for it once VAD has said so (the
        END_OF_SPEECH itself comes ``min_silence_duration`` later), else now (the STT ended the
        utterance first)."""
        if not self._user_speaking and self._voice_ended_at is not None:
            return min(self._voice_ended_at, time.time())
        return time.time()

    def _confirm_backchannel(self, sw: _Swallowed) -> None:
        if sw not in self._swallowed:
            return
        self._swallowed.remove(sw)
        if sw.timer is not None:
            sw.timer.cancel()
        u = sw.utterance
        u.held.clear()
        self._reset_stt_error_count()
        assert u.decision is not None
        logger.debug("backchannel %r kept out of the conversation", u.text)
        self._emit(
            "backchannel",
            BackchannelEvent(transcript=u.text, decision=u.decision, started_at=u.started_at, ended_at=sw.ended_at),
        )

    # -- acting -------------------------------------------------------------------------------

    def _interrupt(
        self,
        reason: Literal["decision", "no_transcript"],
        text: str,
        decision: Decision | None,
        context: AgentContext | None = None,
    ) -> None:
        # backchannels said before the interruption were feedback on what the agent had said
        for sw in list(self._swallowed):
            self._confirm_backchannel(sw)
        speech = self._session.current_speech
        if speech is not None and not speech.done() and not speech.allow_interruptions:
            # say(..., allow_interruptions=False): nothing is interrupted, so no event says so;
            # the words still go to the framework, which handles them as it would without the gate
            logger.debug("the agent's speech is uninterruptible; not interrupting on %r", text)
            return
        warmup = self._session.options.aec_warmup_duration
        if (
            warmup
            and self._first_speaking_at is not None
            and time.time() < self._first_speaking_at + warmup
        ):
            # LiveKit ignores barge-in while echo cancellation warms up (what the microphone hears
            # may be the agent's own voice): the stop waits for the warm-up's end, not for the
            # framework to commit the user's turn (its turn detector's delay on top)
            logger.debug("echo-cancellation warm-up: stopping the agent when it ends")
            if self._warmup_stop is None:
                self._warmup_stop = asyncio.get_running_loop().call_later(
                    self._first_speaking_at + warmup - time.time(), self._stop_after_warmup
                )
        else:
            try:
                self._session.interrupt()
            except RuntimeError as e:
                logger.debug("could not interrupt the agent (%s)", e)
                return
        logger.debug("interrupting the agent (%s) on %r", reason, text)
        if decision is not None:
            context = decision.context
        self._emit("interruption", InterruptionEvent(transcript=text, reason=reason, decision=decision, context=context))

    # -- session events -----------------------------------------------------------------------

    def _on_agent_state(self, ev: Any) -> None:
        try:
            self._agent_state_changed(ev)
        finally:
            if ev.new_state == "listening":
                self._install_hold()
            self._wake_hold()

    def _on_user_state(self, ev: Any) -> None:
        try:
            self._user_state_changed(ev)
        finally:
            self._wake_hold()

    def _on_conversation_item(self, ev: Any) -> None:
        """A user message entered the conversation: no words are pending any more. A typed message
        (LiveKit's text input marks the user "speaking" for it, and no STT ever transcribes it)
        must not hold the reply's audio to the no-transcript limit."""
        if self._voice_untranscribed and getattr(getattr(ev, "item", None), "role", None) == "user":
            self._voice_untranscribed = False
            self._wake_hold()

    def _agent_state_changed(self, ev: Any) -> None:
        if ev.new_state == "speaking" and self._warmup_pending:
            self._warmup_pending = False
            self._first_speaking_at = time.time()
        if ev.old_state not in FILTERED_AGENT_STATES or ev.new_state in FILTERED_AGENT_STATES:
            return
        if self._agent is not None and self._handed_off():
            # the agent is handing off: what was held was feedback on its words, and the next
            # agent has said nothing to answer; the old pipeline would drop it unseen
            for sw in list(self._swallowed):
                self._confirm_backchannel(sw)
            return
        # the agent stopped: speech held while it talked is the user's turn now
        now = time.time()
        for sw in list(self._swallowed):
            if now - sw.ended_at > self._answer_window:
                self._confirm_backchannel(sw)
                continue
            self._swallowed.remove(sw)
            if sw.timer is not None:
                sw.timer.cancel()
            self._release(sw.utterance, note="the agent stopped right after a backchannel")
        u = self._utterance
        if u is not None and not u.released:
            self._release(u, note="the agent stopped while the user was speaking")

    def _stop_after_warmup(self) -> None:
        self._warmup_stop = None
        if self._closed or self._session.agent_state not in FILTERED_AGENT_STATES:
            return
        try:
            self._session.interrupt()
        except RuntimeError as e:
            logger.debug("could not interrupt the agent (%s)", e)

    def _handed_off(self) -> bool:
        try:
            return self._session.current_agent is not self._agent
        except RuntimeError:
            return False

    def _user_state_changed(self, ev: Any) -> None:
        at = getattr(ev, "created_at", None) or time.time()
        if ev.new_state == "speaking":
            self._user_speaking = self._voice_untranscribed = True
            self._carry.voice_started_at = at
            self._carry.last_onset = at
            self._carry.voice_detected_at = time.time()
            u = self._utterance
            if u is not None and u.released:
                # a turn still open from before the user's silence (its last interim was never made
                # final: a stale interim, or a lost final) is over: new speech is judged on its own
                # words, not passed on as part of it
                self._utterance = None
                self._close_released(u)
            self._last_final = ""
            self._arm_no_text_timer()
            return
        self._user_speaking = False
        self._carry.voice_started_at = self._carry.voice_detected_at = None
        self._voice_ended_at = at
        self._cancel_no_text_timer()
        u = self._utterance
        if u is not None and not u.interim and (u.finals or u.released):
            # the final transcript came while the user was still speaking; now the voice is over
            if u.released:
                self._utterance = None
            else:
                self._end_utterance()
        elif u is not None and u.released and u.interim:
            self._arm_final_timer()

    def _on_session_error(self, ev: Any) -> None:
        error = getattr(ev, "error", None)
        if isinstance(error, stt.STTError) and not error.recoverable:
            self._carry.stt_failed = True

    def _reset_stt_error_count(self) -> None:
        """LiveKit counts unrecoverable STT errors until the next transcript it sees, and closes
        the session past ``max_unrecoverable_errors``; held backchannels are transcripts it never
        sees, so a call of nods would count every failure. After a failure, the first held
        transcript passes a blank final to the framework: it resets the count and carries no
        words (LiveKit strips it; no turn, no interruption)."""
        if not self._carry.stt_failed:
            return
        self._carry.stt_failed = False
        self._forward(_transcript_event(stt.SpeechEventType.FINAL_TRANSCRIPT, " "))

    def _arm_no_text_timer(self, *, since: float | None = None) -> None:
        self._cancel_no_text_timer()
        if self._no_transcript_timeout is None or not self._user_speaking:
            return
        delay = self._no_transcript_timeout
        if since is not None:
            delay = max(0.0, since + delay - time.time())
        self._no_text_timer = asyncio.get_running_loop().call_later(delay, self._on_no_transcript)

    def _cancel_no_text_timer(self) -> None:
        if self._no_text_timer is not None:
            self._no_text_timer.cancel()
            self._no_text_timer = None

    def _on_no_transcript(self) -> None:
        self._no_text_timer = None
        try:
            self._no_transcript_fired()
        finally:
            self._wake_hold()

    def _no_transcript_fired(self) -> None:
        if self._closed or not self._user_speaking:
            return
        if self._session.agent_state not in FILTERED_AGENT_STATES:
            return
        u = self._utterance
        if u is not None and u.released:
            return
        logger.info(
            "user speech with no transcript for %.1fs; interrupting the agent",
            self._no_transcript_timeout,
        )
        if u is None:
            u = self._utterance = self._new_utterance()
        self._interrupt("no_transcript", u.text, None, u.context)
        self._release(u)
