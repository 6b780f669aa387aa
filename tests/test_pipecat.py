"""softack in a real Pipecat pipeline (pipecat-ai 1.14), driven with Pipecat's own ``run_test``.

Each scenario sends the frames a Pipecat bot's user aggregator sees (the transport's bot
speaking frames, VAD, the STT's interim and final transcripts) through a real
``LLMUserAggregator`` in a ``PipelineWorker`` and checks what came out: whether the bot was
interrupted (``InterruptionFrame``), whether a ``UserBackchannelFrame`` was pushed, and what
reached the LLM context. ``SleepFrame``s only order the frames (system frames such as VAD are
processed ahead of queued transcripts); no test asserts a duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import (  # noqa: E402
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    TranscriptionFrame,
    UserBackchannelFrame,
    UserStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402
from pipecat.turns.user_start import TranscriptionUserTurnStartStrategy  # noqa: E402
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402

from softack.decision import Action  # noqa: E402
from softack.pipecat import SoftAckDecisionEvent, SoftAckUserTurnStartStrategy, SoftAckUserTurnStrategies  # noqa: E402

# -- frames -------------------------------------------------------------------------------------


def interim(text: str) -> InterimTranscriptionFrame:
    return InterimTranscriptionFrame(text=text, user_id="caller", timestamp="t")


def final(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="caller", timestamp="t")


def vad_start() -> VADUserStartedSpeakingFrame:
    return VADUserStartedSpeakingFrame(start_secs=0.2)


def vad_stop() -> VADUserStoppedSpeakingFrame:
    return VADUserStoppedSpeakingFrame(stop_secs=0.2)


def pause(seconds: float = 0.05) -> SleepFrame:
    return SleepFrame(sleep=seconds)


BOT_SPEAKS = [BotStartedSpeakingFrame(), pause()]


def utterance(*transcripts: Frame) -> list[Frame]:
    """The user speaks over the bot: VAD, the transcripts, VAD stops."""
    return [vad_start(), pause(), *transcripts, pause(), vad_stop(), pause()]


# -- running ------------------------------------------------------------------------------------

ANSWER_WINDOW = 0.2  # small, so a backchannel is confirmed within the test
SETTLE = pause(0.4)  # longer than the answer window and the stop strategy's speech timeout


@dataclass
class Run:
    down: list[Frame]
    context: list[dict]
    decisions: list[SoftAckDecisionEvent] = field(default_factory=list)

    def count(self, cls: type[Frame]) -> int:
        return sum(isinstance(f, cls) for f in self.down)

    @property
    def interrupted(self) -> bool:
        return self.count(InterruptionFrame) > 0

    @property
    def backchannels(self) -> list[str]:
        return [f.text for f in self.down if isinstance(f, UserBackchannelFrame)]

    @property
    def user_messages(self) -> list[str]:
        return [m["content"] for m in self.context if m.get("role") == "user"]


def _stop_strategies():
    return [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)]


def softack_strategies(make_filter, **options) -> tuple[SoftAckUserTurnStrategies, list[SoftAckDecisionEvent]]:
    options.setdefault("answer_window", ANSWER_WINDOW)
    strategy = SoftAckUserTurnStartStrategy(backchannel_filter=make_filter(), **options)
    decisions: list[SoftAckDecisionEvent] = []

    @strategy.event_handler("on_decision")
    async def _on_decision(_strategy, event):
        decisions.append(event)

    return SoftAckUserTurnStrategies(stop=_stop_strategies(), softack=strategy), decisions


def stock_strategies() -> UserTurnStrategies:
    """Pipecat's default start strategies (VAD, then transcription) with a quick stop strategy."""
    return UserTurnStrategies(stop=_stop_strategies())


async def run(strategies: UserTurnStrategies, frames: list[Frame], decisions=None) -> Run:
    context = LLMContext()
    aggregator = LLMUserAggregator(context, params=LLMUserAggregatorParams(user_turn_strategies=strategies))
    down, _up = await run_test(aggregator, frames_to_send=[*frames, SETTLE])
    return Run(down=list(down), context=list(context.messages), decisions=decisions if decisions is not None else [])


async def run_softack(make_filter, frames: list[Frame], **options) -> Run:
    strategies, decisions = softack_strategies(make_filter, **options)
    return await run(strategies, frames, decisions)


# -- backchannels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words", [["yeah"], ["uh", "uh-huh"], ["okay", "okay yeah"], ["mm hmm"], ["right right"], ["i", "i see"]]
)
async def test_backchannel_is_ignored(make_filter, words):
    *interims, last = words
    frames = BOT_SPEAKS + utterance(*(interim(w) for w in interims), interim(last), final(last))
    r = await run_softack(make_filter, frames)
    assert not r.interrupted, r.down
    assert r.count(UserStartedSpeakingFrame) == 0
    assert r.backchannels == [last]
    assert r.user_messages == []
    assert {d.outcome for d in r.decisions} <= {"backchannel", "wait"}


async def test_backchannels_add_up_to_nothing(make_filter):
    """Pipecat users' complaint: "Okay", "Mhm", "Yes" adding up across one bot turn until it stops."""
    frames = BOT_SPEAKS
    for word in ("okay", "mhm", "yes", "yeah"):
        frames = frames + utterance(interim(word), final(word)) + [pause(0.1)]
    r = await run_softack(make_filter, frames)
    assert not r.interrupted
    assert r.backchannels == ["okay", "mhm", "yes", "yeah"]
    assert r.user_messages == []


# -- interruptions ------------------------------------------------------------------------------


async def test_command_stops_the_bot_on_the_first_interim(make_filter):
    frames = BOT_SPEAKS + utterance(interim("no"), pause(), interim("no stop"), pause(), final("no stop"))
    r = await run_softack(make_filter, frames)
    assert r.count(InterruptionFrame) == 1
    first = r.decisions[0]
    assert (first.transcript, first.final, first.outcome) == ("no", False, "turn")
    assert first.decision is not None and first.decision.action is Action.INTERRUPT
    assert len(r.decisions) == 1  # once the turn starts, the words are the user's: no more judging
    assert r.user_messages == ["no stop"]
    assert r.backchannels == []


@pytest.mark.parametrize("text", ["wait", "what do you mean", "hold on a second", "can you repeat that"])
async def test_interruptions_start_the_turn(make_filter, text):
    r = await run_softack(make_filter, BOT_SPEAKS + utterance(interim(text), final(text)))
    assert r.interrupted
    assert r.user_messages == [text]
    assert r.backchannels == []


async def test_mixed_backchannel_then_keyword_interrupts(make_filter):
    frames = BOT_SPEAKS + utterance(
        interim("yeah"), pause(), interim("yeah but"), pause(), interim("yeah but wait"), final("yeah but wait")
    )
    r = await run_softack(make_filter, frames)
    assert [d.outcome for d in r.decisions] == ["backchannel", "turn"]
    assert r.count(InterruptionFrame) == 1
    assert r.user_messages == ["yeah but wait"]
    assert r.backchannels == []


async def test_a_final_dropped_as_a_backchannel_returns_with_the_turn(make_filter):
    """The STT makes "yeah" final, then the user goes on: the turn holds all of their words."""
    frames = BOT_SPEAKS + utterance(interim("yeah"), final("yeah"), pause(), interim("but wait"), final("but wait"))
    r = await run_softack(make_filter, frames)
    assert r.interrupted
    assert r.user_messages == ["yeah but wait"]
    assert r.backchannels == []


# -- transcript burst: Pipecat's interruption empties the aggregator's queue ---------------------


BURST = [interim("no"), final("no stop please")]  # interim and final in one go, no VAD before them


async def test_stock_pipecat_can_lose_the_final_of_a_burst():
    """Why softack queues its turn start: stock Pipecat starts the turn on the interim, and the
    interruption empties the queue the final waits in."""
    r = await run(stock_strategies(), BOT_SPEAKS + BURST + [pause(), vad_stop()])
    assert r.interrupted
    assert "no stop please" not in r.user_messages


async def test_softack_loses_no_word_of_a_burst(make_filter):
    r = await run_softack(make_filter, BOT_SPEAKS + BURST + [pause(), vad_stop()])
    assert r.count(InterruptionFrame) == 1
    assert r.user_messages == ["no stop please"]


async def test_softack_loses_no_word_of_a_burst_after_vad(make_filter):
    r = await run_softack(make_filter, BOT_SPEAKS + [vad_start(), pause(), *BURST, pause(), vad_stop()])
    assert r.count(InterruptionFrame) == 1
    assert r.user_messages == ["no stop please"]


# -- the bot silent, thinking -------------------------------------------------------------------


async def test_bot_silent_every_word_is_a_normal_turn(make_filter):
    r = await run_softack(make_filter, utterance(interim("yeah"), final("yeah")))
    assert r.count(UserStartedSpeakingFrame) == 1
    assert r.user_messages == ["yeah"]
    assert r.backchannels == []
    assert r.decisions == []  # nothing to judge


async def test_bot_stopped_speaking_then_normal_turn(make_filter):
    frames = BOT_SPEAKS + [BotStoppedSpeakingFrame(), pause(0.3)] + utterance(interim("okay"), final("okay"))
    r = await run_softack(make_filter, frames)
    assert r.user_messages == ["okay"]
    assert r.backchannels == []


async def test_thinking_a_backchannel_after_the_users_turn_is_ignored(make_filter):
    """From the end of the user's turn to the bot's first audio the bot is thinking: a "yeah" then
    does not start a second turn (which would cancel the answer being prepared)."""
    frames = utterance(interim("what is the price"), final("what is the price")) + [pause(0.4)]
    frames += utterance(interim("okay"), final("okay"))
    r = await run_softack(make_filter, frames)
    assert r.user_messages == ["what is the price"]
    assert r.count(UserStartedSpeakingFrame) == 1
    assert r.backchannels == ["okay"]
    assert [d.bot_state for d in r.decisions] == ["thinking", "thinking"]


# -- safety valves ------------------------------------------------------------------------------


async def test_stt_silent_speech_yields_the_turn(make_filter):
    frames = BOT_SPEAKS + [vad_start(), pause(0.5)]  # the user speaks; the STT says nothing
    r = await run_softack(make_filter, frames, no_transcript_timeout=0.2)
    assert r.count(InterruptionFrame) == 1
    assert [(d.decision, d.outcome) for d in r.decisions] == [(None, "turn")]


async def test_stt_silent_short_noise_does_not_interrupt(make_filter):
    frames = BOT_SPEAKS + [vad_start(), pause(), vad_stop(), pause(0.4)]
    r = await run_softack(make_filter, frames, no_transcript_timeout=5.0)
    assert not r.interrupted


async def test_answer_to_the_bots_closing_question_becomes_the_turn(make_filter):
    """ "...shall I book it?" "yeah" and the bot stops: the "yeah" was an answer, not feedback."""
    frames = BOT_SPEAKS + utterance(interim("yeah"), final("yeah")) + [BotStoppedSpeakingFrame(), pause()]
    r = await run_softack(make_filter, frames, answer_window=30.0)
    assert r.user_messages == ["yeah"]
    assert r.backchannels == []


async def test_bot_stops_while_the_user_is_still_speaking(make_filter):
    frames = BOT_SPEAKS + [vad_start(), pause(), interim("okay"), pause(), BotStoppedSpeakingFrame(), pause()]
    frames += [final("okay so"), pause(), vad_stop()]
    r = await run_softack(make_filter, frames)
    assert r.user_messages == ["okay so"]
    assert r.backchannels == []


async def test_backchannel_long_before_the_bot_stops_stays_a_backchannel(make_filter):
    frames = BOT_SPEAKS + utterance(interim("yeah"), final("yeah")) + [pause(0.5), BotStoppedSpeakingFrame(), pause()]
    r = await run_softack(make_filter, frames, answer_window=0.1)
    assert r.backchannels == ["yeah"]
    assert r.user_messages == []


async def test_held_backchannel_is_reported_when_an_interruption_follows(make_filter):
    frames = BOT_SPEAKS + utterance(interim("yeah"), final("yeah")) + utterance(interim("stop"), final("stop"))
    r = await run_softack(make_filter, frames, answer_window=30.0)
    assert r.backchannels == ["yeah"]
    assert r.user_messages == ["stop"]


# -- stock Pipecat side by side -----------------------------------------------------------------

SIDE_BY_SIDE = [
    # (utterance over the bot, does it take the floor?)
    ("yeah", False),
    ("uh-huh", False),
    ("okay", False),
    ("no stop", True),
    ("yeah but wait", True),
    ("what is the fee", True),
]


@pytest.mark.parametrize("text,takes_floor", SIDE_BY_SIDE)
async def test_side_by_side_with_stock_pipecat(make_filter, text, takes_floor):
    frames = BOT_SPEAKS + utterance(interim(text), final(text))
    stock = await run(stock_strategies(), frames)
    soft = await run_softack(make_filter, frames)
    # stock Pipecat: voice alone starts the turn and interrupts the bot, whatever was said
    assert stock.interrupted
    assert stock.user_messages == [text]
    # softack: only an interruption does
    assert soft.interrupted is takes_floor
    assert soft.user_messages == ([text] if takes_floor else [])
    assert soft.backchannels == ([] if takes_floor else [text])


# -- wiring -------------------------------------------------------------------------------------


def test_strategies_put_softack_first_before_pipecat_defaults():
    from pipecat.turns.user_start import VADUserTurnStartStrategy

    strategies = SoftAckUserTurnStrategies(stop=_stop_strategies())
    assert isinstance(strategies.start[0], SoftAckUserTurnStartStrategy)
    assert [type(s) for s in strategies.start[1:]] == [VADUserTurnStartStrategy, TranscriptionUserTurnStartStrategy]
    mine = TranscriptionUserTurnStartStrategy(use_interim=False)
    assert SoftAckUserTurnStrategies(start=[mine], stop=_stop_strategies()).start[1:] == [mine]


def test_strategy_shares_the_process_wide_filter():
    from softack.decision import default_filter

    assert SoftAckUserTurnStartStrategy().backchannel_filter is default_filter()
