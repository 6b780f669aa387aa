"""The bot's own words in softack's Pipecat decisions (issue 12's context and intent part).

A real ``LLMUserAggregator`` runs in ``run_test`` followed by an output transport, as in a bot:
the LLM's reply passes through the aggregator as ``LLMTextFrame``s (the line), and the output
transport pushes ``TTSTextFrame``s on as their audio is played (what the user heard). The
strategy's own observer, added to the pipeline when it is set up, reads both; nothing else is
wired. ``SleepFrame``s only order the frames; no test asserts a duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import (  # noqa: E402
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSSpeakFrame,
    TTSTextFrame,
    UserBackchannelFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.tests.utils import run_test  # noqa: E402
from pipecat.transports.base_output import BaseOutputTransport  # noqa: E402
from pipecat.transports.base_transport import TransportParams  # noqa: E402

from softack.context import Cue  # noqa: E402
from softack.decision import Action, Intent  # noqa: E402
from softack.pipecat import (  # noqa: E402
    BotLineObserver,
    SoftAckBackchannelEvent,
    SoftAckBackchannelFrame,
    SoftAckDecisionEvent,
    SoftAckInterruptionEvent,
    SoftAckUserTurnStartStrategy,
    SoftAckUserTurnStrategies,
)
from tests.test_pipecat import SETTLE, _stop_strategies, final, interim, pause, utterance, vad_start, vad_stop  # noqa: E402


class BotOutput(BaseOutputTransport):
    """The bot's output transport without audio: passes every frame on, as a played TTSTextFrame
    leaves a real one (the push the strategy's observer reads as heard)."""

    def __init__(self):
        super().__init__(TransportParams())

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await FrameProcessor.process_frame(self, frame, direction)
        await self.push_frame(frame, direction)


QUESTION_LINE = ["I found a 7 pm flight. ", "Shall I book it? ", "I can also look at later ones."]


def llm_reply(*chunks: str) -> list[Frame]:
    """The LLM's reply going to the TTS (the bot's line, before it is spoken)."""
    return [LLMFullResponseStartFrame(), *(LLMTextFrame(c) for c in chunks), LLMFullResponseEndFrame(), pause()]


def played(sentence: str) -> list[Frame]:
    """A sentence whose audio has played (TTS without word timestamps)."""
    return [TTSTextFrame(sentence, text_type="sentence"), pause()]


def bot_starts(*chunks: str) -> list[Frame]:
    return llm_reply(*chunks) + [BotStartedSpeakingFrame(), pause()]


@dataclass
class Run:
    down: list[Frame]
    context: list[dict]
    decisions: list[SoftAckDecisionEvent] = field(default_factory=list)
    interruptions: list[SoftAckInterruptionEvent] = field(default_factory=list)
    backchannel_events: list[SoftAckBackchannelEvent] = field(default_factory=list)
    aggregator_backchannels: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return any(isinstance(f, InterruptionFrame) for f in self.down)

    @property
    def backchannels(self) -> list[UserBackchannelFrame]:
        return [f for f in self.down if isinstance(f, UserBackchannelFrame)]

    @property
    def user_messages(self) -> list[str]:
        return [m["content"] for m in self.context if m.get("role") == "user"]


async def run(make_filter, frames: list[Frame], *, settle: bool = True, **options) -> Run:
    options.setdefault("answer_window", 0.2)
    strategy = SoftAckUserTurnStartStrategy(backchannel_filter=make_filter(), **options)
    r = Run(down=[], context=[])

    @strategy.event_handler("on_decision")
    async def _on_decision(_s, event):
        r.decisions.append(event)

    @strategy.event_handler("on_interruption")
    async def _on_interruption(_s, event):
        r.interruptions.append(event)

    @strategy.event_handler("on_backchannel")
    async def _on_backchannel(_s, event):
        r.backchannel_events.append(event)

    context = LLMContext()
    aggregator = LLMUserAggregator(
        context,
        params=LLMUserAggregatorParams(user_turn_strategies=SoftAckUserTurnStrategies(stop=_stop_strategies(), softack=strategy)),
    )

    @aggregator.event_handler("on_user_backchannel")
    async def _on_user_backchannel(_a, message):
        r.aggregator_backchannels.append(message.content)

    down, _up = await run_test(Pipeline([aggregator, BotOutput()]), frames_to_send=[*frames, *([SETTLE] if settle else [])])
    r.down = list(down)
    r.context = list(context.messages)
    return r


# -- answer vs nod --------------------------------------------------------------------------------


async def test_yes_right_after_the_bots_question_is_an_answer(make_filter):
    """"...Shall I book it? I can also look at later ones." + "yes" as the question ends: the user's turn."""
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.") + played("Shall I book it?")
    frames += utterance(interim("yes"), final("yes"))
    r = await run(make_filter, frames)
    assert r.interrupted
    assert r.user_messages == ["yes"]
    assert r.backchannels == []
    first = r.decisions[0]
    assert first.outcome == "turn" and first.intent is Intent.ANSWER
    assert first.decision is not None and first.decision.intent is Intent.ANSWER
    assert first.context is not None and first.context.cue == Cue.QUESTION
    assert first.context.said == "I found a 7 pm flight. Shall I book it?"
    assert first.context.unsaid == "I can also look at later ones."
    [interruption] = r.interruptions
    assert (interruption.reason, interruption.intent, interruption.transcript) == ("decision", Intent.ANSWER, "yes")
    assert interruption.context == first.context


async def test_the_same_yes_mid_statement_is_a_nod(make_filter):
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.")
    frames += utterance(interim("yes"), final("yes"))
    r = await run(make_filter, frames)
    assert not r.interrupted
    assert r.user_messages == []
    [frame] = r.backchannels
    assert isinstance(frame, SoftAckBackchannelFrame) and frame.text == "yes"
    # the decision stays available to the app: on the frame, and on the strategy's event
    assert frame.decision is not None and frame.decision.action is Action.IGNORE
    assert frame.intent is Intent.BACKCHANNEL
    assert frame.context is not None and frame.context.cue == Cue.STATEMENT
    assert frame.context.said == "I found a 7 pm flight."
    assert frame.context.unsaid == "Shall I book it? I can also look at later ones."
    [event] = r.backchannel_events
    assert (event.transcript, event.intent, event.at_end) == ("yes", Intent.BACKCHANNEL, False)
    assert event.context == frame.context
    assert r.aggregator_backchannels == ["yes"]  # Pipecat's on_user_backchannel still fires
    assert r.interruptions == []


async def test_yeah_begun_before_the_question_was_heard_stays_a_nod(make_filter):
    """The question finishes playing after the user began (VAD start) but before the transcript
    arrives: what the user had heard is taken at the start of their speech."""
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.")
    frames += [vad_start(), pause(), *played("Shall I book it?"), interim("yeah"), final("yeah"), pause(), vad_stop(), pause()]
    r = await run(make_filter, frames)
    assert not r.interrupted
    assert r.user_messages == []
    assert [f.text for f in r.backchannels] == ["yeah"]
    [decision, *_] = r.decisions
    assert decision.context is not None and decision.context.said == "I found a 7 pm flight."
    assert decision.intent is Intent.BACKCHANNEL


async def test_the_same_yeah_begun_after_the_question_is_an_answer(make_filter):
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.") + played("Shall I book it?")
    frames += [vad_start(), pause(), *played("I can also look at later ones."), interim("yeah"), final("yeah"), pause(), vad_stop()]
    r = await run(make_filter, frames)
    assert r.interrupted
    assert r.user_messages == ["yeah"]
    assert r.interruptions[0].intent is Intent.ANSWER
    assert r.interruptions[0].context.unsaid == "I can also look at later ones."


async def test_word_by_word_playback(make_filter):
    """TTS with word timestamps: the output transport plays one word at a time."""
    words = "I found a 7 pm flight. Shall I book it? I can also".split()
    frames = bot_starts(*QUESTION_LINE)
    for w in words[: words.index("it?") + 1]:
        frames += [TTSTextFrame(w, text_type="word")]
    frames += [pause()] + utterance(interim("yes"), final("yes"))
    r = await run(make_filter, frames)
    assert r.interrupted
    assert r.decisions[0].context.said == "I found a 7 pm flight. Shall I book it?"
    assert r.decisions[0].context.unsaid == "I can also look at later ones."


async def test_command_reports_its_intent_and_context(make_filter):
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.")
    frames += utterance(interim("stop"), final("stop"))
    r = await run(make_filter, frames)
    assert r.interrupted
    [interruption] = r.interruptions
    assert interruption.intent is Intent.STOP_REQUEST
    assert interruption.context.said == "I found a 7 pm flight."


async def test_after_the_users_turn_the_old_line_is_no_context(make_filter):
    """The user answered the question; a "yeah" while the bot thinks is judged without it."""
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.") + played("Shall I book it?")
    frames += utterance(interim("yes please"), final("yes please")) + [BotStoppedSpeakingFrame(), pause(0.3)]
    frames += utterance(interim("yeah"), final("yeah"))
    r = await run(make_filter, frames)
    assert r.user_messages == ["yes please"]
    assert [f.text for f in r.backchannels] == ["yeah"]
    assert r.decisions[-1].bot_state == "thinking" and r.decisions[-1].context is None


async def test_no_bot_text_seen_decides_on_the_words_alone(make_filter):
    frames = [BotStartedSpeakingFrame(), pause()] + utterance(interim("yes"), final("yes"))
    r = await run(make_filter, frames)
    assert not r.interrupted
    assert r.decisions[0].context is None


async def test_spoken_without_the_llm(make_filter):
    """A TTSSpeakFrame (a greeting, a canned prompt) is a line too."""
    frames = [TTSSpeakFrame("Is this a good time to talk?"), pause(), BotStartedSpeakingFrame(), pause()]
    frames += played("Is this a good time to talk?") + utterance(interim("yeah"), final("yeah"))
    r = await run(make_filter, frames)
    assert r.interrupted
    assert r.interruptions[0].intent is Intent.ANSWER


async def test_context_can_be_turned_off(make_filter):
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.") + played("Shall I book it?")
    frames += utterance(interim("yes"), final("yes"))
    r = await run(make_filter, frames, bot_line=False)
    assert not r.interrupted  # the words alone: a nod, as before context
    assert r.decisions[0].context is None


ANSWER_OR_NOD = [
    # (what the user had heard when they began, takes the floor?)
    (["I found a 7 pm flight.", "Shall I book it?"], True),
    (["I found a 7 pm flight."], False),
]


@pytest.mark.parametrize("heard,takes_floor", ANSWER_OR_NOD)
async def test_answer_or_nod_beside_stock_pipecat(make_filter, heard, takes_floor):
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    frames = bot_starts(*QUESTION_LINE)
    for sentence in heard:
        frames += played(sentence)
    frames += utterance(interim("yes"), final("yes"))
    context = LLMContext()
    stock = LLMUserAggregator(
        context, params=LLMUserAggregatorParams(user_turn_strategies=UserTurnStrategies(stop=_stop_strategies()))
    )
    down, _ = await run_test(Pipeline([stock, BotOutput()]), frames_to_send=[*frames, SETTLE])
    # stock Pipecat: voice alone interrupts, answer or nod
    assert any(isinstance(f, InterruptionFrame) for f in down)
    assert [m["content"] for m in context.messages if m.get("role") == "user"] == ["yes"]
    soft = await run(make_filter, frames)
    assert soft.interrupted is takes_floor
    assert soft.user_messages == (["yes"] if takes_floor else [])
    assert [f.text for f in soft.backchannels] == ([] if takes_floor else ["yes"])


# -- the pipeline ends while a backchannel waits out its answer window ------------------------------


async def test_backchannel_held_when_the_pipeline_ends_is_reported(make_filter):
    frames = bot_starts(*QUESTION_LINE) + played("I found a 7 pm flight.") + utterance(interim("yeah"), final("yeah"))
    r = await run(make_filter, frames, answer_window=30.0)
    assert not r.interrupted
    [event] = r.backchannel_events
    assert (event.transcript, event.at_end, event.intent) == ("yeah", True, Intent.BACKCHANNEL)
    assert event.context is not None and event.context.said == "I found a 7 pm flight."


# -- the bot-line observer on its own --------------------------------------------------------------


def _observer_with(events) -> BotLineObserver:
    from softack.pipecat.bot_line import _HEARD, _TEXT, _Event

    o = BotLineObserver()
    for at, kind, text in events:
        if kind == "line":
            o.new_line(at)
        else:
            o._add(at, _TEXT if kind == "text" else _HEARD, text, kind == "text")
    return o


def test_observer_splits_the_line_where_the_user_began():
    o = _observer_with(
        [(0, "line", ""), (1, "text", "Your refund is on its way. "), (1, "text", "Anything else?"),
         (5, "heard", "Your refund"), (6, "heard", "is on its way."), (9, "heard", "Anything else?")]
    )  # fmt: skip
    assert o.context_at(4) == ("", "Your refund is on its way. Anything else?")
    assert o.context_at(6) == ("Your refund is on its way.", "Anything else?")
    assert o.context_at(None) == ("Your refund is on its way. Anything else?", "")


def test_observer_keeps_the_line_current_when_the_user_began():
    o = _observer_with([(0, "line", ""), (1, "text", "Shall I book it?"), (2, "heard", "Shall I book it?"),
                        (10, "line", ""), (11, "text", "Booked.")])  # fmt: skip
    assert o.context_at(5) == ("Shall I book it?", "")
    assert o.context_at(12) == ("", "Booked.")


def test_observer_tolerates_tts_text_that_differs_from_the_llms():
    o = _observer_with([(0, "line", ""), (1, "text", "Your total is $42.50, due Friday. Okay?"),
                        (2, "heard", "Your total is"), (3, "heard", "forty two dollars"), (4, "heard", "due Friday.")])  # fmt: skip
    assert o.context_at(None)[1] == "Okay?"


# -- make demo-pipecat ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,takes_floor", [("answer", True), ("nod", False), ("early nod", False)])
async def test_demo_answer_vs_nod(name, takes_floor):
    from softack.pipecat import demo

    [frames] = [f for n, _story, f in demo.SCENARIOS if n == name]
    stock, soft = await demo._scenario(frames)
    assert stock.interrupted
    assert soft.interrupted is takes_floor
    assert soft.llm_context == (["yes"] if takes_floor else [])
    if takes_floor:
        assert [i.intent for i in soft.interruptions] == [Intent.ANSWER]
    else:
        assert len(soft.backchannels) == 1 and soft.interruptions == []


def test_observer_memory_is_bounded_and_keeps_the_current_line():
    from softack.pipecat import bot_line

    o = _observer_with([(0, "line", ""), (1, "text", "old line.")])
    o.new_line(2)
    for i in range(bot_line._MAX_EVENTS + 10):
        o._add(3 + i, bot_line._TEXT, "word", False)
    assert len(o._events) < bot_line._MAX_EVENTS
    said, unsaid = o.context_at(None)
    assert said == "" and "old" not in unsaid
