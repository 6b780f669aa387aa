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
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit import rtc
from livekit.agents import stt
from livekit.agents.voice import Agent, AgentSession, ModelSettings

from .decision import FILTERED_AGENT_STATES, Action, BackchannelFilter, Decision, default_filter
from .normalize import normalize
from .onnx_model import ModelLoadError

logger = logging.getLogger("softack")

__all__ = [
    "BackchannelEvent",
    "DecisionEvent",
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


def turn_handling(*, interruption: dict[str, Any] | None = None, **other: Any) -> dict[str, Any]:
    """``AgentSession(turn_handling=...)`` with the gate's interruption options.

    Args:
        interruption: overrides for ``interruption_options()``.
        other: the other ``TurnHandlingOptions`` keys (``turn_detection``, ``endpointing``, ...).
    """
    return {**other, "interruption": interruption_options(**(interruption or {}))}


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
    """

    transcript: str
    decision: Decision
    started_at: float
    ended_at: float
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class InterruptionEvent:
    """The gate stopped the agent.

    Attributes:
        transcript: the utterance's text so far ("" when no text came).
        reason: "decision" (the filter said interrupt) or "no_transcript" (speech with no text for
            ``no_transcript_timeout``).
        decision: the decision, for ``reason == "decision"``.
        created_at: when the gate called ``session.interrupt()``.
    """

    transcript: str
    reason: Literal["decision", "no_transcript"]
    decision: Decision | None
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class DecisionEvent:
    """One decision on a transcript (every interim and final while the gate was judging).

    Attributes:
        transcript: the utterance's text so far.
        final: whether it was made on a final transcript.
        agent_state: the agent's state at that moment.
        decision: the decision.
        duration: seconds ``decide`` took.
        created_at: wall-clock time of the decision.
    """

    transcript: str
    final: bool
    agent_state: str
    decision: Decision
    duration: float
    created_at: float = field(default_factory=time.time)


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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.backchannel_filter = backchannel_filter if backchannel_filter is not None else _default_filter()
        self.no_transcript_timeout = no_transcript_timeout
        self.answer_window = answer_window
        self._softack_events: rtc.EventEmitter[GateEvent] = rtc.EventEmitter()

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
            emit=self._softack_events.emit,
        )
        async for ev in gate.run(node):
            yield ev


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
    ) -> None:
        self._session = session
        self._filter = backchannel_filter
        self._no_transcript_timeout = no_transcript_timeout
        self._answer_window = answer_window
        self._emit = emit
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._utterance: _Utterance | None = None
        self._swallowed: list[_Swallowed] = []
        self._user_speaking = session.user_state == "speaking"
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
        reader = asyncio.create_task(self._read(source), name="softack.gate.read")
        try:
            while True:
                item = await self._out.get()
                if item is _END:
                    break
                yield item
            if not reader.cancelled() and (exc := reader.exception()) is not None:
                raise exc
        finally:
            self._closed = True
            self._session.off("agent_state_changed", self._on_agent_state)
            self._session.off("user_state_changed", self._on_user_state)
            self._cancel_no_text_timer()
            self._report_held_backchannels()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _read(self, source: AsyncIterable[Any]) -> None:
        try:
            async for ev in source:
                if isinstance(ev, stt.SpeechEvent):
                    self._on_stt_event(ev)
                else:
                    self._forward(ev)
        finally:
            self._out.put_nowait(_END)

    def _forward(self, ev: Any) -> None:
        if not self._closed:
            self._out.put_nowait(ev)

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
            u = self._utterance = _Utterance(started_at=time.time())
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
            if is_final and not self._user_speaking:
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
            self._interrupt("decision", u.text, decision)
            self._release(u)
        elif is_final and not self._user_speaking:
            self._end_utterance()

    def _decide(self, u: _Utterance, *, final: bool) -> Decision:
        state = self._session.agent_state
        started = time.perf_counter()
        decision = self._filter.decide(u.text, state, final=final)
        took = time.perf_counter() - started
        u.decision = decision
        self._emit(
            "decision",
            DecisionEvent(transcript=u.text, final=final, agent_state=state, decision=decision, duration=took),
        )
        return decision

    def _release(self, u: _Utterance, *, note: str | None = None) -> None:
        """Hand the utterance to the framework: its held events now, later ones as they come."""
        u.released = True
        held, u.held = u.held, []
        if note and held:
            logger.debug("%s; releasing %r as the user's turn", note, u.text)
        for ev in held:
            self._forward(ev)

    def _retract_interim(self, u: _Utterance) -> None:
        """A released utterance is over while its last interim was never made final (a stale
        interim, or a final the STT lost): the framework still holds that interim as the user's
        current words, and with ``min_words`` they would let voice alone stop the agent's next
        reply. An empty interim retracts them, as a provider does when a partial goes away (a
        final still to come carries the words anyway)."""
        if u.interim:
            u.interim = ""
            self._forward(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                    alternatives=[stt.SpeechData(language="", text="")],
                )
            )

    def _end_utterance(self) -> None:
        """The utterance is over: a held backchannel is kept out (after ``answer_window``)."""
        u, self._utterance = self._utterance, None
        if u is None:
            return
        if u.released:
            self._retract_interim(u)
            return
        if u.decision is not None and u.decision.action is Action.IGNORE:
            sw = _Swallowed(utterance=u, ended_at=time.time())
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

    def _confirm_backchannel(self, sw: _Swallowed) -> None:
        if sw not in self._swallowed:
            return
        self._swallowed.remove(sw)
        if sw.timer is not None:
            sw.timer.cancel()
        u = sw.utterance
        u.held.clear()
        assert u.decision is not None
        logger.debug("backchannel %r kept out of the conversation", u.text)
        self._emit(
            "backchannel",
            BackchannelEvent(transcript=u.text, decision=u.decision, started_at=u.started_at, ended_at=sw.ended_at),
        )

    # -- acting -------------------------------------------------------------------------------

    def _interrupt(self, reason: Literal["decision", "no_transcript"], text: str, decision: Decision | None) -> None:
        # backchannels said before the interruption were feedback on what the agent had said
        for sw in list(self._swallowed):
            self._confirm_backchannel(sw)
        warmup = self._session.options.aec_warmup_duration
        if (
            warmup
            and self._first_speaking_at is not None
            and time.time() < self._first_speaking_at + warmup
        ):
            # LiveKit ignores barge-in while echo cancellation warms up; the released turn
            # still stops the agent once the framework commits it
            logger.debug("echo-cancellation warm-up, leaving the stop to the user turn")
        else:
            try:
                self._session.interrupt()
            except RuntimeError as e:
                logger.debug("could not interrupt the agent (%s)", e)
        logger.debug("interrupting the agent (%s) on %r", reason, text)
        self._emit("interruption", InterruptionEvent(transcript=text, reason=reason, decision=decision))

    # -- session events -----------------------------------------------------------------------

    def _on_agent_state(self, ev: Any) -> None:
        if ev.new_state == "speaking" and self._warmup_pending:
            self._warmup_pending = False
            self._first_speaking_at = time.time()
        if ev.old_state not in FILTERED_AGENT_STATES or ev.new_state in FILTERED_AGENT_STATES:
            return
        # the agent stopped: speech held while it talked is the user's turn now
        now = time.time()
        for sw in list(self._swallowed):
            self._swallowed.remove(sw)
            if sw.timer is not None:
                sw.timer.cancel()
            if now - sw.ended_at <= self._answer_window:
                self._release(sw.utterance, note="the agent stopped right after a backchannel")
            else:
                self._confirm_backchannel(sw)
        u = self._utterance
        if u is not None and not u.released:
            self._release(u, note="the agent stopped while the user was speaking")

    def _on_user_state(self, ev: Any) -> None:
        if ev.new_state == "speaking":
            self._user_speaking = True
            self._last_final = ""
            u = self._utterance
            if u is not None and u.released:
                # a turn still open from before the user's silence (its last interim was never made
                # final: a stale interim, or a lost final) is over: new speech is judged on its own
                # words, not passed on as part of it
                self._utterance = None
                self._retract_interim(u)
            self._arm_no_text_timer()
            return
        self._user_speaking = False
        self._cancel_no_text_timer()
        u = self._utterance
        if u is not None and not u.interim and (u.finals or u.released):
            # the final transcript came while the user was still speaking; now the voice is over
            if u.released:
                self._utterance = None
            else:
                self._end_utterance()

    def _arm_no_text_timer(self) -> None:
        self._cancel_no_text_timer()
        if self._no_transcript_timeout is None or not self._user_speaking:
            return
        self._no_text_timer = asyncio.get_running_loop().call_later(
            self._no_transcript_timeout, self._on_no_transcript
        )

    def _cancel_no_text_timer(self) -> None:
        if self._no_text_timer is not None:
            self._no_text_timer.cancel()
            self._no_text_timer = None

    def _on_no_transcript(self) -> None:
        self._no_text_timer = None
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
            u = self._utterance = _Utterance(started_at=time.time())
        self._interrupt("no_transcript", u.text, None)
        self._release(u)
