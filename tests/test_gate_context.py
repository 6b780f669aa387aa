"""Issue 9, item 4: the gate decides with the agent's own words, in a real ``AgentSession``.

The harness paces the agent's transcript with its audio as LiveKit's room output does
(``TranscriptSynchronizer`` -> ``softack.gate.HeardTranscript``); the tone TTS changes pitch once per
syllable, so LiveKit's speaking-rate estimate paces it like speech. The scenarios are the demo's
(j, k, l). Sessions of one test run concurrently; each runs in the README's default configuration
(LiveKit's turn detector, the 3 s echo-cancellation warm-up) and in the VAD one.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import pytest

from softack import Intent
from softack.context import Cue
from softack.demo import BOOK, INSTRUCTIONS, REFUND, SCENARIOS
from softack.gate import SoftAckAgent, turn_handling
from softack.testing import Scenario, ScenarioRun, ToneTTS, UserSpeech, run_scenario

# real-time sessions: sample the loop's time off the CPU, on a collected heap (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("loop_lag")

README = Path(__file__).resolve().parents[1] / "README.md"
CONFIGS = {
    "vad": ({"turn_detection": "vad"}, {}),
    "defaults": ({}, {"livekit_defaults": True}),
}


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


async def run(s: Scenario, bf, config: str, agent=None, **session_options) -> ScenarioRun:
    handling, options = CONFIGS[config]
    agent = agent or SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=bf)
    return await run_scenario(
        s, agent, turn_handling=turn_handling(**handling), label=config,
        session_options={"sync_transcript": True, **options, **session_options},
    )


async def both(s: Scenario, bf, **session_options) -> list[ScenarioRun]:
    return await asyncio.gather(*(run(s, bf, c, **session_options) for c in CONFIGS))


def cuts(r: ScenarioRun):
    end = r.offline.clock.wall(r.scenario.duration)
    return [s for s in r.offline.audio_output.stops if s.was_playing and s.cleared_at < end]


async def test_yes_right_after_the_question_is_an_answer(make_filter):
    """"yes" right after "Shall I book it?" is heard: the agent stops, "yes" is the user's turn, the
    interruption names ANSWER and carries the line split where the caller began to speak."""
    for r in await both(scenario("j"), make_filter()):
        where = r.label
        assert [i.intent for i in r.interruptions] == [Intent.ANSWER], where
        ctx = r.interruptions[0].context
        assert ctx is not None and ctx.cue == Cue.QUESTION, (where, ctx)
        assert "Shall I book it?" in ctx.said and ctx.unsaid.endswith("later ones."), (where, ctx)
        assert f"{ctx.said} {ctx.unsaid}" == BOOK, (where, ctx)
        assert cuts(r), where
        assert r.offline.user_messages() == ["yes"], where
        if where == "vad":  # LiveKit's turn detector replies later than the run lasts
            assert ("assistant", "Done, it's booked.") in r.offline.chat_messages(), where
        assert r.missed_interruptions == 0 and r.false_interruptions == 0, where


async def test_yes_mid_statement_is_a_nod(make_filter):
    """The same "yes" while the agent explains a refund: ignored, no stop, no audio gap, nothing in
    the chat; the backchannel event carries the intent and the context it was judged in."""
    for r in await both(scenario("k"), make_filter()):
        where = r.label
        assert r.interruptions == [] and cuts(r) == [], where
        assert r.gaps == [] and r.offline.audio_output.pauses == [], where
        assert r.offline.user_messages() == [], where
        [bc] = r.backchannels
        assert bc.transcript == "yes" and bc.intent is Intent.BACKCHANNEL, where
        ctx = bc.context
        assert ctx is not None and ctx.cue == Cue.STATEMENT, (where, ctx)
        assert ctx.said and REFUND.startswith(ctx.said) and f"{ctx.said} {ctx.unsaid}" == REFUND, (where, ctx)
        assert all(d.context is ctx for d in r.decisions), "one context per utterance, reused per decision"


async def test_yeah_begun_before_the_question_stays_a_nod(make_filter):
    """"yeah" whose voice starts before "Shall I book it?" is heard, and whose transcript comes after
    it: judged on what was heard when the voice began (a statement), so it stays a nod."""
    for r in await both(scenario("l"), make_filter()):
        where = r.label
        assert [b.transcript for b in r.backchannels] == ["yeah"], where
        assert r.interruptions == [] and cuts(r) == [] and r.offline.user_messages() == [], where
        ctx = r.backchannels[0].context
        assert ctx is not None and ctx.cue == Cue.STATEMENT and "?" not in ctx.said, (where, ctx)
        # the transcript itself arrived after the question had been heard
        first_text = min(e.at for e in r.offline.stt.emitted if e.text.strip())
        said_then, _ = r.offline.heard.heard(first_text)
        assert "Shall I book it?" in said_then, said_then


async def test_word_timestamps_pace_the_context(make_filter):
    """A TTS with word timestamps and ``use_tts_aligned_transcript``: LiveKit paces by them, and the
    answer after the question is still an answer; without a paced transcript (no transcription
    output) the gate passes no context and decides on the words alone (the soft-ack list)."""
    # the "yes" a little later than the demo's (2.55 s: "...book it? I can" heard on a quiet machine):
    # on a busy one the paced transcript trails the audio, and 2.4 s was only 0.1 s after "book it?";
    # the question stays within the two-word grace until "also" (~2.85 s)
    late_yes = replace(scenario("j"), user=(UserSpeech.say("yes", at=2.55),))
    aligned, unpaced = await asyncio.gather(
        run(late_yes, make_filter(), "vad", tts=ToneTTS(word_timestamps=True), use_tts_aligned_transcript=True),
        run(scenario("j"), make_filter(), "vad", sync_transcript=False),
    )
    assert [i.intent for i in aligned.interruptions] == [Intent.ANSWER]
    assert aligned.interruptions[0].context.said.endswith(("book it?", "book it? I", "book it? I can"))
    assert aligned.offline.user_messages() == ["yes"]
    assert unpaced.interruptions == [] and [b.context for b in unpaced.backchannels] == [None]
    assert all(d.context is None for d in unpaced.decisions)


async def test_no_context_while_the_agent_thinks(make_filter):
    """The agent is thinking (nothing of a line heard): decisions carry no context."""
    s = Scenario(
        name="thinking",
        title="yeah while the agent thinks",
        agent_says=None,
        user=(UserSpeech.say("tell me about the plans", at=0.5), UserSpeech.say("okay", at=2.05)),
        expect=("turn", "ignore"),
        duration=4.0,
        replies={"plans": "Our plans start at ten dollars a month and include unlimited calls and texts."},
    )
    from softack.testing import ScriptedLLM  # noqa: F401  (the LLM's first word comes after ttft)

    r = await run(s, make_filter(), "vad")
    thinking = [d for d in r.decisions if d.agent_state == "thinking"]
    speaking = [d for d in r.decisions if d.agent_state == "speaking"]
    assert all(d.context is None for d in thinking)
    assert all(d.context is None or d.context.said for d in speaking)


def readme_assistant():
    """The README's intent example, as written there."""
    text = README.read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "Intent.HOLD_REQUEST" in b)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace["Assistant"]


async def test_readme_intent_example(make_filter):
    """The README's example: "hold on" mid-statement -> the agent stops and waits silently (no reply
    to that turn); "sorry you're breaking up" -> the agent repeats the sentence the caller was
    hearing and nothing else."""
    Assistant = readme_assistant()

    def agent():
        a = Assistant()
        a.backchannel_filter = make_filter()
        return a

    hold = Scenario(
        name="hold", title="hold on", agent_says=REFUND, user=(UserSpeech.say("hold on", at=2.0),),
        expect=("interrupt",), duration=5.5,
    )
    cant = Scenario(
        name="cant", title="breaking up", agent_says=REFUND,
        user=(UserSpeech.say("sorry you're breaking up", at=2.0),), expect=("interrupt",), duration=7.0,
    )
    h, c = await asyncio.gather(run(hold, None, "vad", agent=agent()), run(cant, None, "vad", agent=agent()))
    assert [i.intent for i in h.interruptions] == [Intent.HOLD_REQUEST]
    # (LiveKit may start the LLM preemptively on the final transcript; StopResponse discards it)
    assert cuts(h) and h.offline.tts.texts == [REFUND], h.offline.tts.texts
    assert [m for m in h.offline.chat_messages("assistant")][1:] == []
    assert [i.intent for i in c.interruptions] == [Intent.CANT_HEAR]
    assert cuts(c) and c.offline.tts.texts == [REFUND, REFUND], c.offline.tts.texts
