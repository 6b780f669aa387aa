"""Offline Pipecat demo (``make demo-pipecat``): softack beside stock Pipecat, no keys, no network.

Each scenario sends what a bot's pipeline carries in a call (the LLM's reply, the transport's bot
speaking frames and the text it plays, VAD, the STT's interim and final transcripts) through a
real ``LLMUserAggregator`` followed by an output transport in a ``PipelineWorker``
(``pipecat.tests.utils.run_test``), once with Pipecat's default start strategies and once with
``SoftAckUserTurnStrategies``, and prints what each did. The answer-vs-nod scenarios send the
same "yes" after different parts of the bot's line: softack reads what the user had heard.
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
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserBackchannelFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator, LLMUserAggregatorParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from . import SoftAckDecisionEvent, SoftAckInterruptionEvent, SoftAckUserTurnStartStrategy, SoftAckUserTurnStrategies


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


def _reply(*chunks: str) -> list[Frame]:
    """The LLM's reply on its way to the TTS, then the bot starts speaking."""
    return [LLMFullResponseStartFrame(), *(LLMTextFrame(c) for c in chunks), LLMFullResponseEndFrame(), *BOT]


def _played(sentence: str) -> list[Frame]:
    """A sentence whose audio has played: its TTSTextFrame leaves the output transport."""
    return [TTSTextFrame(sentence, text_type="sentence"), SleepFrame(sleep=0.05)]


BOOK = _reply("I found a 7 pm flight. ", "Shall I book it? ", "I can also look at later ones.")
FLIGHT, SHALL = _played("I found a 7 pm flight."), _played("Shall I book it?")

SCENARIOS: list[tuple[str, str, list[Frame]]] = [
    ("backchannel", 'bot explains; user: "yeah"', BOT + _words("yeah")),
    ("backchannels", 'bot explains; user: "okay" ... "mhm" ... "uh-huh"', BOT + _words("okay") + _words("mhm") + _words("uh huh", "uh-huh")),
    ("command", 'bot explains; user: "no stop"', BOT + _words("no", "no stop")),
    ("mixed", 'bot explains; user: "yeah but wait"', BOT + _words("yeah", "yeah but", "yeah but wait")),
    ("question", 'bot explains; user: "what is the fee"', BOT + _words("what", "what is the fee")),
    ("burst", 'bot explains; STT sends "no" and "no stop please" at once', BOT + [_interim("no"), _final("no stop please"), SleepFrame(sleep=0.05)]),
    ("answer", 'bot: "...Shall I book it? | I can also look at later ones."; user: "yes" as the question ends', BOOK + FLIGHT + SHALL + _words("yes")),
    ("nod", 'bot: "I found a 7 pm flight. | Shall I book it? ..."; user: "yes" mid-statement', BOOK + FLIGHT + _words("yes")),
    ("early nod", 'bot: "...flight. | Shall I book it?"; user: "yeah" begun before the question was heard', BOOK + FLIGHT + [VADUserStartedSpeakingFrame(start_secs=0.2), SleepFrame(sleep=0.05), *SHALL, _interim("yeah"), _final("yeah"), VADUserStoppedSpeakingFrame(stop_secs=0.2), SleepFrame(sleep=0.05)]),
    ("answer window", 'bot: "...shall I book it?" (no text seen); user: "yeah"; bot stops', BOT + _words("yeah") + [BotStoppedSpeakingFrame()]),
    ("stt silent", "bot explains; user speaks, STT sends nothing", BOT + [VADUserStartedSpeakingFrame(start_secs=0.2), SleepFrame(sleep=0.6)]),
    ("bot silent", 'bot listening; user: "yeah"', _words("yeah")),
]


class _BotOutput(BaseOutputTransport):
    """The bot's output transport, without audio: it passes on what it plays."""

    def __init__(self):
        super().__init__(TransportParams())

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await FrameProcessor.process_frame(self, frame, direction)
        await self.push_frame(frame, direction)


@dataclass
class Outcome:
    interrupted: bool
    llm_context: list[str]
    backchannels: list[str]
    decisions: list[SoftAckDecisionEvent]
    interruptions: list[SoftAckInterruptionEvent]

    def summary(self) -> str:
        said = " / ".join(repr(t) for t in self.llm_context) or "-"
        return f"{'user turn (interruption)' if self.interrupted else 'no turn, bot kept talking':26}  LLM context: {said}"


def _stop() -> list:
    return [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)]


async def _run(
    strategies: UserTurnStrategies,
    frames: list[Frame],
    decisions: list[SoftAckDecisionEvent],
    interruptions: list[SoftAckInterruptionEvent],
) -> Outcome:
    context = LLMContext()
    aggregator = LLMUserAggregator(context, params=LLMUserAggregatorParams(user_turn_strategies=strategies))
    down, _ = await run_test(Pipeline([aggregator, _BotOutput()]), frames_to_send=[*frames, SleepFrame(sleep=0.4)])
    return Outcome(
        interrupted=any(isinstance(f, InterruptionFrame) for f in down),
        llm_context=[m["content"] for m in context.messages if m.get("role") == "user"],
        backchannels=[f.text for f in down if isinstance(f, UserBackchannelFrame)],
        decisions=decisions,
        interruptions=interruptions,
    )


async def _scenario(frames: list[Frame]) -> tuple[Outcome, Outcome]:
    stock = await _run(UserTurnStrategies(stop=_stop()), frames, [], [])
    strategy = SoftAckUserTurnStartStrategy(answer_window=0.2, no_transcript_timeout=0.3)
    decisions: list[SoftAckDecisionEvent] = []

    @strategy.event_handler("on_decision")
    async def _on_decision(_strategy, event: SoftAckDecisionEvent):
        decisions.append(event)

    interruptions: list[SoftAckInterruptionEvent] = []

    @strategy.event_handler("on_interruption")
    async def _on_interruption(_strategy, event: SoftAckInterruptionEvent):
        interruptions.append(event)

    soft = await _run(SoftAckUserTurnStrategies(stop=_stop(), softack=strategy), frames, decisions, interruptions)
    return stock, soft


async def main() -> None:
    pipecat_logger.remove()
    pipecat_logger.add(sys.stderr, level="WARNING")
    print("softack beside stock Pipecat; '|' marks where the user began to speak in the bot's line")
    rows = []
    for name, story, frames in SCENARIOS:
        stock, soft = await _scenario(frames)
        print(f"\n== {name}: {story}")
        print(f"  stock Pipecat  {stock.summary()}")
        print(f"  softack        {soft.summary()}")
        heard = next((d.context for d in soft.decisions if d.context is not None), None)
        if heard is not None:
            print(f"      the bot's line when the user began: said={heard.said!r} unsaid={heard.unsaid!r} ({heard.cue})")
        for d in soft.decisions:
            what = "no transcript" if d.decision is None else f"{d.decision.action.value} ({d.decision.reason.value})"
            intent = d.intent.value if d.intent is not None else "-"
            print(f"      decision on {d.transcript!r:22} final={d.final!s:5} bot={d.bot_state:8} -> {what}, {intent}: {d.outcome}")

        for i in soft.interruptions:
            print(f"      on_interruption: reason={i.reason} intent={i.intent.value} transcript={i.transcript!r}")
        for text in soft.backchannels:
            print(f"      UserBackchannelFrame({text!r})")
        rows.append((name, stock, soft))

    print("\n| scenario | stock Pipecat: user turn | softack: user turn | softack: UserBackchannelFrames |")
    print("|---|---|---|---|")
    for name, stock, soft in rows:
        print(f"| {name} | {'yes' if stock.interrupted else 'no'} | {'yes' if soft.interrupted else 'no'} | {len(soft.backchannels)} |")


if __name__ == "__main__":
    asyncio.run(main())
