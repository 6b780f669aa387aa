"""softack as a Pipecat user-turn start strategy (pipecat-ai 1.14).

In Pipecat 1.x an interruption is what happens when a user turn starts, and start strategies
decide when that is. ``SoftAckUserTurnStartStrategy`` goes first in the list. While the bot
speaks, or thinks (from the end of the user's turn to the bot's first audio), it keeps voice
activity (``VADUserStartedSpeakingFrame``, ``ProposedUserStartedSpeakingFrame``) and transcripts
from the strategies after it, and ``BackchannelFilter.decide`` judges the user's words as each
interim and final transcript arrives:

- a backchannel ("yeah", "uh-huh") never starts a turn: its final transcript is dropped from the
  aggregation and, once the user is done, it becomes a ``UserBackchannelFrame`` (the aggregator's
  ``on_user_backchannel`` event), out of the LLM context;
- an interruption ("no stop", "yeah but wait") starts the user turn at once, which interrupts the
  bot; the user's words, including any final already dropped as a backchannel, make the turn;
- with the bot silent, everything goes on to the next strategies: a normal turn.

The same safety valves as the LiveKit gate: speech heard for ``no_transcript_timeout`` seconds
with no transcript (a failed STT) starts the turn; a backchannel held when the bot stops on its
own, or one that ended less than ``answer_window`` seconds before (a "yeah" to the bot's closing
question), becomes the user's turn.

Each decision reads the bot's own words: the bot's current line, split where the user began to
speak (``AgentContext(said, unsaid)``, taken at the user's VAD start, built once per utterance),
from a ``BotLineObserver`` the strategy adds to its pipeline (see ``bot_line``). "yes" right after
"Shall I book it?" is then an answer (the turn starts), the same "yes" mid-statement a nod. Every
decision, interruption and backchannel is reported with its intent and that context.

A transcript burst loses no words. Starting a turn broadcasts an interruption, and Pipecat's
interruption empties the aggregator's queue of frames not yet processed: an interim "no" that
started the turn would drop the final "no stop" queued right behind it. So the strategy never
starts a turn in the middle of the queue: it queues a marker frame behind whatever has already
arrived and starts the turn when the marker comes up (the next frame when nothing is waiting).

All state belongs to one strategy instance, which belongs to one user aggregator: one per session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    ProposedUserStartedSpeakingFrame,
    TranscriptionFrame,
    UserBackchannelFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy
from pipecat.utils.base_object import BaseObject
from pipecat.utils.time import time_now_iso8601

from ..context import AgentContext
from ..decision import FILTERED_AGENT_STATES, Action, BackchannelFilter, Decision, Intent, default_filter
from ..onnx_model import ModelLoadError
from .bot_line import BotLineObserver

logger = logging.getLogger("softack")

__all__ = [
    "SoftAckBackchannelEvent",
    "SoftAckBackchannelFrame",
    "SoftAckDecisionEvent",
    "SoftAckInterruptionEvent",
    "SoftAckUserTurnStartStrategy",
]

BotState = Literal["speaking", "thinking", "listening"]


@dataclass(frozen=True)
class SoftAckDecisionEvent:
    """One decision on the user's words while the bot spoke or thought (``on_decision``).

    Attributes:
        transcript: the utterance's text so far ("" for a no-transcript fallback).
        final: whether it was made on a final transcript.
        bot_state: "speaking" or "thinking".
        decision: the decision (``None`` for the no-transcript fallback, which is no decision).
        outcome: what the strategy did: "backchannel" (held, then a ``UserBackchannelFrame``
            unless the bot stops within ``answer_window``), "turn" (started the user turn),
            "wait" (needs more words).
        intent: why the user speaks (``decision.intent``; None for the no-transcript fallback).
        context: the bot's line as the user had heard it when they began to speak (None when no
            bot words were seen).
        created_at: wall-clock time of the decision.
    """

    transcript: str
    final: bool
    bot_state: str
    decision: Decision | None
    outcome: Literal["backchannel", "turn", "wait"]
    intent: Intent | None = None
    context: AgentContext | None = None
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SoftAckInterruptionEvent:
    """The strategy started the user's turn while the bot spoke or thought (``on_interruption``).

    Pipecat then interrupts the bot (``InterruptionFrame``) and aggregates the user's words.

    Attributes:
        transcript: the user's words so far ("" when no transcript came).
        reason: "decision" (the filter said the user takes the floor), "no_transcript" (speech
            with no text for ``no_transcript_timeout``), "bot_stopped" (the bot stopped on its own
            while the user spoke, or within ``answer_window`` of a held backchannel).
        intent: why the user takes the floor: the decision's (``ANSWER`` for "yes" after the
            bot's question, ``STOP_REQUEST``, ...); ``ANSWER`` for backchannels that the bot's
            stop made a turn; ``TAKES_TURN`` with no transcript.
        context: the bot's line as the user had heard it when they began to speak.
        decision: the last decision on the utterance (None when there was none).
        created_at: wall-clock time.
    """

    transcript: str
    reason: Literal["decision", "no_transcript", "bot_stopped"]
    intent: Intent
    context: AgentContext | None
    decision: Decision | None
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SoftAckBackchannelEvent:
    """A backchannel kept out of the conversation (``on_backchannel``), as its
    ``UserBackchannelFrame`` is pushed, or when the pipeline ends while it was still held.

    Attributes:
        transcript: what the user said.
        decision: the decision that kept it out (``intent`` ``BACKCHANNEL``, its ``context``).
        context: the bot's line as the user had heard it when they began to speak.
        at_end: True when the pipeline ended inside its ``answer_window`` (no frame then).
        created_at: wall-clock time.
    """

    transcript: str
    decision: Decision | None
    context: AgentContext | None
    at_end: bool = False
    created_at: float = field(default_factory=time.time)

    @property
    def intent(self) -> Intent:
        return self.decision.intent if self.decision is not None else Intent.BACKCHANNEL


@dataclass
class SoftAckBackchannelFrame(UserBackchannelFrame):
    """The ``UserBackchannelFrame`` softack pushes, with the decision behind it.

    The aggregator's ``on_user_backchannel`` event sees it as any ``UserBackchannelFrame``; a
    processor or observer downstream can read the decision, intent and context here.

    Parameters:
        decision: the decision that kept the words out of the conversation.
    """

    decision: Decision | None = None

    @property
    def intent(self) -> Intent:
        return self.decision.intent if self.decision is not None else Intent.BACKCHANNEL

    @property
    def context(self) -> AgentContext | None:
        return self.decision.context if self.decision is not None else None


@dataclass(eq=False)
class _Utterance:
    """One user utterance heard over the bot: its text so far and the decision on it."""

    user_id: str = ""
    timestamp: str = field(default_factory=time_now_iso8601)
    finals: list[str] = field(default_factory=list)
    interim: str = ""
    decision: Decision | None = None
    ended_at: float | None = None  # monotonic; set when the user is done (held as a backchannel)
    started_at: int | None = None  # pipeline clock (ns) when the user began to speak (VAD start)
    context: AgentContext | None = None  # the bot's line at started_at, built once
    context_built: bool = False

    @property
    def text(self) -> str:
        return " ".join(t.strip() for t in (*self.finals, self.interim) if t.strip())

    @property
    def final_text(self) -> str:
        return " ".join(t.strip() for t in self.finals if t.strip())


@dataclass
class _StartTurnFrame(InterimTranscriptionFrame):
    """The marker that starts the user turn once the frames queued before it are processed.

    An (empty) interim transcription because the user aggregator consumes those instead of
    passing them downstream.
    """


def _default_backchannel_filter() -> BackchannelFilter:
    try:
        return default_filter()
    except ModelLoadError as e:
        logger.error("%s; running on the soft-ack and keyword rules alone", e)
        return BackchannelFilter(classifier=False)


class SoftAckUserTurnStartStrategy(BaseUserTurnStartStrategy):
    """Starts the user turn for an interruption, never for a backchannel, while the bot talks.

    Decides, on every interim and final transcript heard while the bot speaks or thinks, whether
    the user takes the floor (start the turn now: the bot is interrupted) or is only
    backchannelling (no turn; a ``UserBackchannelFrame`` instead). With the bot silent it passes
    everything on to the strategies after it. Put it first in ``UserTurnStrategies.start``
    (``SoftAckUserTurnStrategies`` does).

    Args:
        backchannel_filter: the decision engine; the process-wide ``BackchannelFilter`` the
            LiveKit gate uses (lists from ``LIVEKIT_SOFT_ACKS`` / ``LIVEKIT_INTERRUPT_KEYWORDS``,
            the shipped model) when None.
        no_transcript_timeout: seconds of user speech over the bot with no transcript after which
            the turn starts anyway (the STT may have failed). None disables it.
        answer_window: a backchannel that ended less than this many seconds before the bot
            stopped on its own becomes the user's turn (an answer to the bot's last words).
        thinking_timeout: how long after the user's turn ends the bot counts as thinking when no
            audio comes (a turn the LLM does not answer must not leave the filter on).
        bot_line: follows the bot's line and what of it was played (the decisions' context);
            a new ``BotLineObserver`` when None. The strategy adds it to its pipeline's observers
            when set up. Pass ``False`` to decide on the user's words alone.
        **kwargs: passed to ``BaseUserTurnStartStrategy``.

    Events (``@strategy.event_handler(name)``):
    ``on_decision(strategy, SoftAckDecisionEvent)`` (every decision),
    ``on_interruption(strategy, SoftAckInterruptionEvent)`` (the strategy started the user's turn),
    ``on_backchannel(strategy, SoftAckBackchannelEvent)`` (a backchannel kept out).
    """

    def __init__(
        self,
        *,
        backchannel_filter: BackchannelFilter | None = None,
        no_transcript_timeout: float | None = 2.0,
        answer_window: float = 1.0,
        thinking_timeout: float = 5.0,
        bot_line: BotLineObserver | None | bool = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.backchannel_filter = backchannel_filter or _default_backchannel_filter()
        self.no_transcript_timeout = no_transcript_timeout
        self.answer_window = answer_window
        self.thinking_timeout = thinking_timeout
        self._register_event_handler("on_decision")
        self._register_event_handler("on_interruption")
        self._register_event_handler("on_backchannel")
        if bot_line is None or bot_line is True:
            bot_line = BotLineObserver()
        self.bot_line: BotLineObserver | None = bot_line or None
        self._clock: Any = None
        self._observed_worker: Any = None
        self._speech_started_at: int | None = None  # pipeline clock at the last VAD start

        self._bot_speaking = False
        self._thinking_since: float | None = None
        self._in_user_turn = False
        self._turn_requested = False  # a start marker is queued
        self._turn_utterances: list[_Utterance] = []  # whose words make the requested turn
        self._user_speaking = False
        self._utterance: _Utterance | None = None
        self._held: list[_Utterance] = []  # ended backchannels, each waiting out answer_window
        self._confirm_tasks: dict[_Utterance, asyncio.Task] = {}
        self._no_transcript_task: asyncio.Task | None = None

    def __repr__(self) -> str:
        u = self._utterance
        return (
            f"SoftAckUserTurnStartStrategy(bot={self.bot_state}, user_turn={self._in_user_turn}, "
            f"turn_requested={self._turn_requested}, user_speaking={self._user_speaking}, "
            f"utterance={u.text if u else None!r}, held={[h.text for h in self._held]!r})"
        )

    @property
    def bot_state(self) -> BotState:
        """"speaking" (between Bot{Started,Stopped}SpeakingFrame), "thinking" (from the end of
        the user's turn to the bot's first audio) or "listening"."""
        if self._bot_speaking:
            return "speaking"
        if self._thinking_since is not None and time.monotonic() - self._thinking_since < self.thinking_timeout:
            return "thinking"
        return "listening"

    # -- setup: the bot's words ----------------------------------------------------------------

    async def setup(self, setup: FrameProcessorSetup):
        """Set up; add the bot-line observer to the pipeline running the user aggregator."""
        await super().setup(setup)
        self._clock = setup.clock
        worker = getattr(setup, "pipeline_worker", None)
        if self.bot_line is not None and worker is not None and worker is not self._observed_worker:
            worker.add_observer(self.bot_line)
            self._observed_worker = worker

    def _now(self) -> int | None:
        """The pipeline clock (ns), which stamps the frames the bot-line observer sees."""
        if self._clock is None:
            return None
        try:
            return self._clock.get_time()
        except Exception:
            return None

    def _context(self, u: _Utterance) -> AgentContext | None:
        """The bot's line split where the user began to speak; built once per utterance."""
        if not u.context_built:
            u.context_built = True
            if self.bot_line is not None:
                said, unsaid = self.bot_line.context_at(u.started_at)
                if said or unsaid:
                    u.context = self.backchannel_filter.context(said, unsaid)
        return u.context

    # -- turn notifications from the controller -----------------------------------------------

    async def handle_user_turn_started(self):
        """A user turn started (ours or another strategy's): the user has the floor."""
        await super().handle_user_turn_started()
        self._in_user_turn = True
        self._turn_requested = False
        self._turn_utterances = []
        self._utterance = None
        self._speech_started_at = None
        if self.bot_line is not None:
            # the user has the floor: whatever the bot says next is a new line
            now = self._now()
            if now is not None:
                self.bot_line.new_line(now)
        await self._cancel_no_transcript_timer()
        # backchannels said before the turn were feedback on what the bot had said
        for u in list(self._held):
            await self._confirm_backchannel(u)

    async def handle_user_turn_stopped(self):
        """The user's turn ended: the bot is thinking until its first audio."""
        await super().handle_user_turn_stopped()
        self._in_user_turn = False
        self._thinking_since = time.monotonic()

    async def cleanup(self):
        await super().cleanup()
        await self._cancel_no_transcript_timer()
        for task in list(self._confirm_tasks.values()):
            await self.cancel_task(task)
        self._confirm_tasks.clear()
        # Backchannels still inside their answer window when the pipeline ends are reported: the
        # pipeline has stopped, so on on_backchannel only (no frame can travel any more).
        for u in list(self._held):
            self._held.remove(u)
            await self._report_backchannel(u, at_end=True)
        await BaseObject.cleanup(self)  # wait for the event handlers

    # -- frames --------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Keep voice and words from the other start strategies while the bot talks; judge words.

        Args:
            frame: the frame the user aggregator is processing.

        Returns:
            STOP for what this strategy consumed (voice and words while the bot talks, its own
            marker), CONTINUE otherwise.
        """
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            self._thinking_since = None
            return ProcessFrameResult.CONTINUE
        if isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            await self._on_bot_stopped()
            return ProcessFrameResult.CONTINUE
        if isinstance(frame, _StartTurnFrame):
            await self._start_turn(frame)
            return ProcessFrameResult.STOP
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._user_speaking = True
            # what the user had heard is what was played when they began to speak, not when the
            # transcript arrives a few hundred ms later
            self._speech_started_at = self._now()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speaking = False
            await self._cancel_no_transcript_timer()

        if self._in_user_turn:
            return ProcessFrameResult.CONTINUE
        judging = self.bot_state in FILTERED_AGENT_STATES or self._utterance is not None or self._turn_requested
        if not judging:
            return ProcessFrameResult.CONTINUE

        if isinstance(frame, (VADUserStartedSpeakingFrame, ProposedUserStartedSpeakingFrame)):
            # voice alone never starts the turn over the bot: the words decide
            if isinstance(frame, VADUserStartedSpeakingFrame):
                await self._arm_no_transcript_timer()
            return ProcessFrameResult.STOP
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            u = self._utterance
            if u is not None and u.finals and not u.interim:
                await self._end_utterance()
            return ProcessFrameResult.CONTINUE
        if isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame)):
            await self._on_transcript(frame)
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE

    async def _on_transcript(self, frame: TranscriptionFrame | InterimTranscriptionFrame) -> None:
        final = isinstance(frame, TranscriptionFrame)
        text = frame.text or ""
        u = self._utterance
        if u is None:
            started_at, self._speech_started_at = self._speech_started_at, None
            u = self._utterance = _Utterance(
                user_id=frame.user_id, started_at=started_at if started_at is not None else self._now()
            )
        if final:
            if text.strip():
                u.finals.append(text)
            u.interim = ""
        else:
            u.interim = text
        if self._turn_requested:
            # words queued before the marker: they join the turn when it starts
            return
        if text.strip():
            await self._arm_no_transcript_timer()
        if not u.text:
            if final and not self._user_speaking:
                self._utterance = None
            return

        state = self.bot_state
        if state not in FILTERED_AGENT_STATES:
            state = "speaking"  # words still held from when the bot spoke are judged as such
        decision = self._decide(u, state, final=final)
        if decision.action in (Action.INTERRUPT, Action.PASS_THROUGH):
            await self._emit(u, final, state, decision, "turn")
            await self._emit_interruption(u.text, "decision", decision.intent, u.context, decision)
            await self._request_turn(u.user_id)
            return
        if final:
            # the aggregator added the final to the turn's text before we saw it; a held
            # utterance has no turn yet: keep its words here until it is judged
            await self.trigger_reset_aggregation()
        await self._emit(u, final, state, decision, "backchannel" if decision.action is Action.IGNORE else "wait")
        if final and not self._user_speaking:
            await self._end_utterance()

    def _decide(self, u: _Utterance, state: str, *, final: bool) -> Decision:
        decision = self.backchannel_filter.decide(u.text, state, final=final, context=self._context(u))
        u.decision = decision
        return decision

    async def _emit(self, u: _Utterance, final: bool, state: str, decision: Decision | None, outcome: str) -> None:
        event = SoftAckDecisionEvent(
            transcript=u.text,
            final=final,
            bot_state=state,
            decision=decision,
            outcome=outcome,  # type: ignore[arg-type]
            intent=decision.intent if decision is not None else None,
            context=u.context,
        )
        await self._call_event_handler("on_decision", event)

    async def _emit_interruption(
        self, transcript: str, reason: str, intent: Intent, context: AgentContext | None, decision: Decision | None
    ) -> None:
        logger.debug("softack: user turn (%s, %s) on %r", reason, intent.value, transcript)
        event = SoftAckInterruptionEvent(
            transcript=transcript, reason=reason, intent=intent, context=context, decision=decision  # type: ignore[arg-type]
        )
        await self._call_event_handler("on_interruption", event)

    async def _report_backchannel(self, u: _Utterance, *, at_end: bool = False) -> None:
        event = SoftAckBackchannelEvent(transcript=u.text, decision=u.decision, context=u.context, at_end=at_end)
        await self._call_event_handler("on_backchannel", event)

    # -- transitions ---------------------------------------------------------------------------

    async def _request_turn(self, user_id: str, *, answers: list[_Utterance] | None = None) -> None:
        """speech -> turn: queue the marker that starts the turn behind the frames already queued.

        Args:
            user_id: the user the turn belongs to.
            answers: held backchannels that join the turn (the bot stopped right after them);
                any other held backchannel was feedback on what the bot had said: confirmed.
        """
        answers = answers or []
        for u in list(self._held):
            if u in answers:
                self._held.remove(u)
                await self._cancel_confirm(u)
            else:
                await self._confirm_backchannel(u)
        self._turn_utterances = [*answers, *([self._utterance] if self._utterance is not None else [])]
        self._turn_requested = True
        await self._cancel_no_transcript_timer()
        await self.push_frame(_StartTurnFrame(text="", user_id=user_id, timestamp=time_now_iso8601()))

    async def _start_turn(self, marker: _StartTurnFrame) -> None:
        """The marker came up: start the turn (the interruption) with the user's final words.

        Some of those words were dropped from the aggregation while held as a backchannel, and a
        final processed before the marker reached the stop strategies before the turn began (they
        forget it when it does): the aggregation is rebuilt from the utterances' finals, as one
        transcript queued after the interruption emptied the queue. Words not yet final arrive
        as usual."""
        if not self._turn_requested:
            return
        words = " ".join(u.final_text for u in self._turn_utterances if u.final_text)
        await self.trigger_user_turn_started()
        if words:
            logger.debug("softack: user turn started with %r", words)
            await self.trigger_reset_aggregation()
            await self.push_frame(TranscriptionFrame(text=words, user_id=marker.user_id, timestamp=marker.timestamp))

    async def _end_utterance(self) -> None:
        """speech -> held backchannel: the user is done; wait out answer_window, then confirm."""
        u, self._utterance = self._utterance, None
        if u is None or u.decision is None or u.decision.action is not Action.IGNORE:
            return
        u.ended_at = time.monotonic()
        self._held.append(u)
        if self.answer_window > 0 and self.bot_state in FILTERED_AGENT_STATES:
            self._confirm_tasks[u] = self.create_task(self._confirm_later(u), "softack_confirm_backchannel")
        else:
            await self._confirm_backchannel(u)

    async def _confirm_later(self, u: _Utterance) -> None:
        await asyncio.sleep(self.answer_window)
        self._confirm_tasks.pop(u, None)
        await self._confirm_backchannel(u)

    async def _cancel_confirm(self, u: _Utterance) -> None:
        task = self._confirm_tasks.pop(u, None)
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task)

    async def _confirm_backchannel(self, u: _Utterance) -> None:
        """held -> backchannel: out of the conversation, reported as a ``UserBackchannelFrame``."""
        if u not in self._held:
            return
        self._held.remove(u)
        await self._cancel_confirm(u)
        logger.debug("softack: backchannel %r kept out of the conversation", u.text)
        await self.push_frame(
            SoftAckBackchannelFrame(text=u.text, user_id=u.user_id, timestamp=u.timestamp, decision=u.decision)
        )
        await self._report_backchannel(u)

    async def _on_bot_stopped(self) -> None:
        """The bot stopped: words held while it talked are the user's turn now."""
        if self._in_user_turn or self._turn_requested:
            return
        now = time.monotonic()
        answers = []
        for u in list(self._held):
            if u.ended_at is not None and now - u.ended_at <= self.answer_window:
                answers.append(u)
            else:
                await self._confirm_backchannel(u)
        current = self._utterance if self._utterance is not None and self._utterance.text else None
        if answers or current is not None:
            logger.debug("softack: the bot stopped right after the user's words; they are the user's turn")
            last = current or answers[-1]
            decision = last.decision
            if answers:
                intent = Intent.ANSWER  # the answer window's reading: a "yeah" to the bot's last words
            elif decision is not None and decision.action is Action.INTERRUPT:
                intent = decision.intent
            else:
                intent = Intent.TAKES_TURN
            words = " ".join(u.text for u in (*answers, *([current] if current else [])) if u.text)
            await self._emit_interruption(words, "bot_stopped", intent, last.context, decision)
            await self._request_turn(last.user_id, answers=answers)

    # -- no-transcript fallback ----------------------------------------------------------------

    async def _arm_no_transcript_timer(self) -> None:
        await self._cancel_no_transcript_timer()
        if self.no_transcript_timeout is None or not self._user_speaking:
            return
        self._no_transcript_task = self.create_task(self._no_transcript_watch(), "softack_no_transcript")

    async def _cancel_no_transcript_timer(self) -> None:
        task, self._no_transcript_task = self._no_transcript_task, None
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task)

    async def _no_transcript_watch(self) -> None:
        assert self.no_transcript_timeout is not None
        await asyncio.sleep(self.no_transcript_timeout)
        self._no_transcript_task = None
        if not self._user_speaking or self._in_user_turn or self._turn_requested:
            return
        if self.bot_state not in FILTERED_AGENT_STATES:
            return
        logger.info(
            "softack: user speech with no transcript for %.1fs; starting the user turn",
            self.no_transcript_timeout,
        )
        u = self._utterance or _Utterance(started_at=self._speech_started_at)
        self._context(u)
        await self._emit(u, False, self.bot_state, None, "turn")
        await self._emit_interruption(u.text, "no_transcript", Intent.TAKES_TURN, u.context, None)
        await self._request_turn(u.user_id)
