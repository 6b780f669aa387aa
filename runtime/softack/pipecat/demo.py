"""Offline Pipecat demo (``make demo-pipecat``): softack beside stock Pipecat, no keys, no network.

Each scenario sends what a bot's user aggregator sees in a call (the transport's bot speaking
frames, VAD, the STT's interim and final transcripts) through a real ``LLMUserAggregator`` in a
``PipelineWorker`` (``pipecat.tests.utils.run_test``), once with Pipecat's default start
strategies and once with ``SoftAckUserTurnStrategies``, and prints what each did.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from loguru import logger as pipecat_logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    TranscriptionFrame,
    UserBackchannelFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator, LLMUserAggregatorParams
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from . import SoftAckDecisionEvent, SoftAckUserTurnStartStrategy, SoftAckUserTurnStrategies


def _interim(text: str) -> Frame:
    return InterimTranscriptionFrame(text=text, user_id="caller", timestamp="")


def _final(text: str) -> Frame:
    return TranscriptionFrame(text=text, user_id="caller", timestamp="")


def _speech(*transcripts: Frame) -> list[Frame]:
    gap = SleepFrame(sleep=0.05)
    return [VADUserStartedSpeakingFrame(start_secs=0.2), gap, *transcripts, gap, VADUserStoppedSpeakingFrame(stop_secs=0.2), gap]


def _words(*interims: str) -> list[Frame]:
    return _speech(*(_interim(w) for w in interims), _final(interims[-1]))


BOT = [BotStartedSpeakingFrame(), SleepFrame(sleep=0.05)]

SCENARIOS: list[tuple[str, str, list[Frame]]] = [
    ("backchannel", 'bot explains; user: "yeah"', BOT + _words("yeah")),
    ("backchannels", 'bot explains; user: "okay" ... "mhm" ... "uh-huh"', BOT + _words("okay") + _words("mhm") + _words("uh huh", "uh-huh")),
    ("command", 'bot explains; user: "no stop"', BOT + _words("no", "no stop")),
    ("mixed", 'bot explains; user: "yeah but wait"', BOT + _words("yeah", "yeah but", "yeah but wait")),
    ("question", 'bot explains; user: "what is the fee"', BOT + _words("what", "what is the fee")),
    ("burst", 'bot explains; STT sends "no" and "no stop please" at once', BOT + [_interim("no"), _final("no stop please"), SleepFrame(sleep=0.05)]),
    ("answer", 'bot: "...shall I book it?"; user: "yeah"; bot stops', BOT + _words("yeah") + [BotStoppedSpeakingFrame()]),
    ("stt silent", "bot explains; user speaks, STT sends nothing", BOT + [VADUserStartedSpeakingFrame(start_secs=0.2), SleepFrame(sleep=0.6)]),
    ("bot silent", 'bot listening; user: "yeah"', _words("yeah")),
]


@dataclass
class Outcome:
    interrupted: bool
    llm_context: list[str]
    backchannels: list[str]
    decisions: list[SoftAckDecisionEvent]

    def summary(self) -> str:
        said = " / ".join(repr(t) for t in self.llm_context) or "-"
        return f"{'user turn (interruption)' if self.interrupted else 'no turn, bot kept talking':26}  LLM context: {said}"


def _stop() -> list:
    return [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)]


async def _run(strategies: UserTurnStrategies, frames: list[Frame], decisions: list[SoftAckDecisionEvent]) -> Outcome:
    context = LLMContext()
    aggregator = LLMUserAggregator(context, params=LLMUserAggregatorParams(user_turn_strategies=strategies))
    down, _ = await run_test(aggregator, frames_to_send=[*frames, SleepFrame(sleep=0.4)])
    return Outcome(
        interrupted=any(isinstance(f, InterruptionFrame) for f in down),
        llm_context=[m["content"] for m in context.messages if m.get("role") == "user"],
        backchannels=[f.text for f in down if isinstance(f, UserBackchannelFrame)],
        decisions=decisions,
    )


async def _scenario(frames: list[Frame]) -> tuple[Outcome, Outcome]:
    stock = await _run(UserTurnStrategies(stop=_stop()), frames, [])
    strategy = SoftAckUserTurnStartStrategy(answer_window=0.2, no_transcript_timeout=0.3)
    decisions: list[SoftAckDecisionEvent] = []

    @strategy.event_handler("on_decision")
    async def _on_decision(_strategy, event: SoftAckDecisionEvent):
        decisions.append(event)

    soft = await _run(SoftAckUserTurnStrategies(stop=_stop(), softack=strategy), frames, decisions)
    return stock, soft


async def main() -> None:
    pipecat_logger.remove()
    pipecat_logger.add(sys.stderr, level="WARNING")
    rows = []
    for name, story, frames in SCENARIOS:
        stock, soft = await _scenario(frames)
        print(f"\n== {name}: {story}")
        print(f"  stock Pipecat  {stock.summary()}")
        print(f"  softack        {soft.summary()}")
        for d in soft.decisions:
            what = "no transcript" if d.decision is None else f"{d.decision.action.value} ({d.decision.reason.value})"
            print(f"      decision on {d.transcript!r:22} final={d.final!s:5} bot={d.bot_state:8} -> {what}: {d.outcome}")
        for text in soft.backchannels:
            print(f"      UserBackchannelFrame({text!r})")
        rows.append((name, stock, soft))

    print("\n| scenario | stock Pipecat: user turn | softack: user turn | softack: UserBackchannelFrames |")
    print("|---|---|---|---|")
    for name, stock, soft in rows:
        print(f"| {name} | {'yes' if stock.interrupted else 'no'} | {'yes' if soft.interrupted else 'no'} | {len(soft.backchannels)} |")


if __name__ == "__main__":
    asyncio.run(main())
