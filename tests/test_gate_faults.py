"""The gate against a misbehaving STT (issue 5, item 3), each fault through a real ``AgentSession``.

A voice agent runs for hours on live calls, and the gate sits in its STT path: nothing the STT
does may crash the call, hang it, or silently drop what the user said. The STT here is
``softack.testing.ScriptedSTT``: it fails at scripted moments (``STTFault``: a retryable error the
stream's own retry absorbs, or an unrecoverable one after which the session builds a new stream
and calls ``Agent.stt_node`` again), sends events in any order (a final before its interims, a
stale interim after the final, END_OF_SPEECH before the final), sends finals alone, sends text
after the agent has stopped, or sends nothing at all (``mute``).

What is asserted is what the user and the agent would notice: whether the agent's audio stopped,
and when (read off the loudspeaker's timeline), what reached the LLM, and what the gate reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from livekit.agents import APIConnectOptions
from livekit.agents.voice.agent_session import SessionConnectOptions

from softack import Action
from softack.demo import INSTRUCTIONS, MONOLOGUE
from softack.gate import SoftAckAgent, turn_handling
from softack.normalize import normalize
from softack.testing import (
    Scenario,
    ScenarioRun,
    STTFault,
    TranscriptStep,
    UserSpeech,
    run_scenario,
)

from . import looplag

# every test here samples how long its event loop was kept off the CPU (tests/looplag.py)
pytestmark = pytest.mark.usefixtures("loop_lag")

# The bound the scenario tests hold the gate to: audio stops within 50 ms of the deciding transcript.
STOP_BOUND = 0.050

T = TranscriptStep

REPLY = "Sorry, go ahead and tell me what you need, I am listening to you now."


async def run_gate(s: Scenario, make_filter, *, stt_options=None, session_options=None, **agent_kwargs) -> ScenarioRun:
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter(), **agent_kwargs)
    # a hung session fails the test instead of hanging it
    return await asyncio.wait_for(
        run_scenario(
            s,
            agent,
            turn_handling=turn_handling(turn_detection="vad"),
            label="gate",
            stt_options=stt_options,
            session_options=session_options,
        ),
        timeout=s.duration + 15.0,
    )


def emitted(run: ScenarioRun, text: str, *, final: bool | None = None):
    """The first transcript the STT sent with exactly ``text``."""
    for ev in run.offline.stt.emitted:
        if ev.text == text and (final is None or (ev.type.value == "final_transcript") == final):
            return ev
    raise AssertionError(f"the STT never sent {text!r}")


def stop_latency(run: ScenarioRun, at: float) -> float:
    """Seconds from wall-clock time ``at`` (a transcript) to the cut of the agent's audio; the
    audio must have been playing until then."""
    out = run.offline.audio_output
    stop = out.stop_after(at - 1.0)
    assert stop is not None, "the agent's audio never stopped"
    assert out.audible_at(at - 0.01), "the agent's audio had stopped before the transcript"
    return stop.at - at


def assert_stopped_on(run: ScenarioRun, ev) -> float:
    latency = stop_latency(run, ev.at)
    # beyond the time the loop's thread was kept off the CPU (tests/looplag.py): zero on a quiet machine
    starved = looplag.current().starved_between(ev.at, ev.at + latency)
    assert 0.0 <= latency <= STOP_BOUND + starved, (
        f"stopped {latency * 1e3:.1f} ms after {ev.text!r} (loop off the CPU {starved * 1e3:.1f} ms)"
    )
    return latency


def cuts(run: ScenarioRun) -> list:
    """Cuts of playing agent audio during the run (not the one closing the session makes)."""
    end = run.offline.clock.wall(run.scenario.duration)
    return [s for s in run.offline.audio_output.stops if s.was_playing and s.cleared_at < end]


def assert_no_gaps_or_cuts(run: ScenarioRun, start: float, end: float) -> None:
    """The agent's audio played on, unbroken, from ``start`` to ``end`` (seconds on the clock)."""
    clock, out = run.offline.clock, run.offline.audio_output
    a, b = clock.wall(start), clock.wall(end)
    assert run.gaps == [], f"gaps in the agent's audio: {run.gaps}"
    assert out.pauses == []
    assert [s for s in cuts(run) if a <= s.at <= b] == [], "the agent's audio was cut"
    assert any(lo <= a and hi >= b for lo, hi in out.heard_intervals()), out.heard_intervals()


def user_turns(run: ScenarioRun) -> list[str]:
    return [normalize(t) for t in run.offline.user_messages()]


# ----------------------------------------------------------------------------- errors, reconnects


@pytest.mark.parametrize("retryable", [True, False], ids=["retried-in-stream", "new-stream"])
async def test_stt_failure_mid_backchannel_then_a_command(make_filter, retryable):
    """The STT connection dies while the user says "uh-huh" (its interim came, its final is lost
    with the connection). A retryable error is retried inside the stream; an unrecoverable one
    ends it, and the session builds a new stream and a new gate. Either way: the "yeah" before
    is a backchannel, the "uh-huh" is not silently lost (it is reported, or absorbed by the next
    utterance, never passed on while the agent talks), and a later "no stop" still stops the
    agent within 50 ms of its first word, its words reach the LLM and the agent answers them."""
    s = Scenario(
        name="stt-failure",
        title="yeah; uh-huh cut by a connection failure; no stop",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.say("yeah", at=1.0),
            # the provider never finalises this one: the connection is lost after its interim
            UserSpeech(start=2.4, end=2.8, transcripts=(T(2.7, "uh-huh"),), stt_speech_events=False, label="uh-huh"),
            UserSpeech.say("no stop", at=4.0),
        ),
        expect=("ignore", "ignore", "interrupt"),
        duration=7.0,
        replies={"stop": REPLY},
    )
    run = await run_gate(s, make_filter, stt_options={"faults": [STTFault(at=2.75, retryable=retryable)]})
    stt_ = run.offline.stt
    assert len(stt_.failures) == 1
    if retryable:
        assert (stt_.streams, stt_.runs) == (1, 2), "the stream should have reconnected by itself"
    else:
        assert stt_.streams == 2, "the session should have opened a new STT stream"

    assert_no_gaps_or_cuts(run, 0.5, 4.0)
    backchannels = [b.transcript for b in run.backchannels]
    assert backchannels[0] == "yeah"
    if not retryable:
        # the old gate ended with the stream: what it held is reported, not dropped
        assert backchannels == ["yeah", "uh-huh"]
    assert_stopped_on(run, emitted(run, "no"))
    assert [i.transcript for i in run.interruptions] == ["no"]
    # the command is the only thing that reached the LLM (the unfinished "uh-huh" at most
    # prefixes it), and the agent answered it after the failure
    assert user_turns(run) and user_turns(run)[-1].endswith("no stop") and len(user_turns(run)) == 1
    assert all(normalize(t).endswith("no stop") for t in run.offline.llm.user_texts)
    assert ("assistant", REPLY) in run.offline.chat_messages()


async def test_stt_outage_during_a_command(make_filter):
    """The STT is down (two failures, then a 3 s back-off) while the user asks for the floor. With
    no transcript the gate interrupts after ``no_transcript_timeout`` (2 s) of their voice; when the
    stream is back, the transcripts of the buffered audio arrive and become the user's turn."""
    s = Scenario(
        name="outage",
        title="the STT is down while the user speaks",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech(
                start=1.5,
                end=3.9,
                transcripts=(
                    T(1.9, "sorry"),
                    T(2.4, "sorry can you"),
                    T(3.0, "sorry can you wait"),
                    T(4.2, "sorry can you wait I have a question", final=True),
                ),
                label="sorry can you wait I have a question",
            ),
        ),
        expect=("interrupt",),
        duration=6.5,
        replies={"question": "Of course, what is it?"},
    )
    run = await run_gate(
        s,
        make_filter,
        stt_options={"faults": [STTFault(at=1.0), STTFault(at=1.15)]},
        session_options={"conn_options": SessionConnectOptions(stt_conn_options=APIConnectOptions(retry_interval=3.0))},
    )
    clock, out = run.offline.clock, run.offline.audio_output
    assert run.offline.stt.runs == 3 and len(run.offline.stt.failures) == 2
    first_text = min(e.at for e in run.offline.stt.emitted if e.text)
    assert clock.rel(first_text) > 4.0, "the transcripts should only come once the stream is back"
    (interruption,) = run.interruptions
    assert interruption.reason == "no_transcript"
    onset = next(t for t, kind in run.offline.scripted_vad.events if kind == "start_of_speech")
    stop = out.stop_after(onset)
    assert stop is not None
    assert 2.0 <= stop.at - onset and stop.at < first_text, "interrupted on the no-transcript limit"
    assert set(run.offline.llm.user_texts) == {"sorry can you wait I have a question"}
    assert user_turns(run) == ["sorry can you wait i have a question"]
    assert ("assistant", "Of course, what is it?") in run.offline.chat_messages()


# ---------------------------------------------------------------------------------- out of order


def _stale_interim_scenario(name: str, stale: str, *, end_before_stale: bool) -> Scenario:
    return Scenario(
        name=name,
        title=f'"no stop", then a late interim "{stale}"; later "yeah" during the reply',
        agent_says=MONOLOGUE,
        user=(
            UserSpeech(
                start=1.5,
                end=2.1,
                transcripts=(T(1.9, "no"), T(2.4, "no stop", final=True), T(2.45, stale)),
                stt_end_at=2.41 if end_before_stale else None,
                label="no stop",
            ),
            UserSpeech.say("yeah", at=4.5),
        ),
        expect=("interrupt", "ignore"),
        duration=7.0,
        replies={"stop": REPLY},
    )


async def test_stale_interim_after_the_final_does_not_resurrect_a_turn(make_filter):
    """A late interim of words already final ("no st", or a revised "no stuff"), before or after
    the STT's END_OF_SPEECH, adds no turn and changes none: the agent's reply to "no stop" plays on
    through a later "yeah", which is a backchannel, and "no stop" is the only user turn.

    (Before the fix, the stale interim stayed the framework's current interim, which no final
    replaced: the gate kept the turn open and passed the "yeah" on unjudged, and voice alone, with
    ``min_words=1`` counting the stale words, cut the agent's reply.)"""
    variants = [("no st", True), ("no st", False), ("no stuff", True), ("no stuff", False)]
    runs = await asyncio.gather(
        *(
            run_gate(_stale_interim_scenario(f"stale-{i}", stale, end_before_stale=end), make_filter)
            for i, (stale, end) in enumerate(variants)
        )
    )
    for (stale, end), run in zip(variants, runs, strict=True):
        where = f"stale {stale!r}, END_OF_SPEECH {'before' if end else 'after'} it"
        assert [i.transcript for i in run.interruptions] == ["no"], where
        assert user_turns(run) == ["no stop"], where
        assert set(run.offline.llm.user_texts) == {"no stop"}, where
        assert ("assistant", REPLY) in run.offline.chat_messages(), where
        assert [b.transcript for b in run.backchannels] == ["yeah"], where
        # the reply (it starts once "no stop" is committed) plays through the "yeah"
        reply_start = run.offline.audio_output.segment_starts[1]
        assert [c for c in cuts(run) if c.at > reply_start] == [], f"{where}: the reply was cut"
        assert run.offline.audio_output.audible_at(run.offline.clock.wall(5.6)), where
        stale_decisions = [d.decision.action for d in run.decisions if d.transcript.startswith(stale)]
        if stale == "no st":
            # recognised as a late partial of the final: dropped, never judged
            assert stale_decisions == [], where
        else:
            # a revision is not recognisable as stale; with the agent silent it passed through
            assert set(stale_decisions) <= {Action.PASS_THROUGH}, where


async def test_final_before_its_interims_and_end_of_speech_before_the_final(make_filter):
    """Reordered events: "yeah" whose END_OF_SPEECH comes before its transcripts stays a
    backchannel; a "stop it now" whose final comes first, whose interims trail after it and whose
    START_OF_SPEECH comes last stops the agent within 50 ms of the final, and is one turn, not two."""
    s = Scenario(
        name="reordered",
        title="END_OF_SPEECH before the final; a final before its interims",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech(start=1.0, end=1.35, transcripts=(T(1.5, "yeah"), T(1.8, "yeah", final=True)), stt_end_at=1.45, label="yeah"),
            UserSpeech(
                start=3.0,
                end=3.8,
                transcripts=(T(3.9, "stop it now", final=True), T(3.95, "stop"), T(4.0, "stop it")),
                stt_start_at=4.05,
                stt_end_at=4.1,
                label="stop it now",
            ),
        ),
        expect=("ignore", "interrupt"),
        duration=6.5,
        replies={"stop": REPLY},
    )
    run = await run_gate(s, make_filter)
    assert_no_gaps_or_cuts(run, 0.5, 3.8)
    assert [b.transcript for b in run.backchannels] == ["yeah"]
    assert_stopped_on(run, emitted(run, "stop it now", final=True))
    # the trailing interims are late partials of the final: never judged, never passed on
    assert [(d.transcript, d.final, d.decision.action) for d in run.decisions][-1:] == [
        ("stop it now", True, Action.INTERRUPT)
    ]
    assert user_turns(run) == ["stop it now"]
    assert set(run.offline.llm.user_texts) == {"stop it now"}
    assert ("assistant", REPLY) in run.offline.chat_messages()


async def test_interleaved_utterances(make_filter):
    """The final of a "yeah" arrives after the first interim of the "wait" that follows it: the
    agent stops on "wait" within 50 ms, and the command's words reach the LLM."""
    s = Scenario(
        name="interleaved",
        title="yeah's final after wait's first interim",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech(start=1.0, end=1.35, transcripts=(T(1.3, "yeah"), T(2.05, "yeah", final=True)), stt_speech_events=False, label="yeah"),
            UserSpeech(
                start=1.6,
                end=2.5,
                transcripts=(T(2.0, "wait"), T(2.3, "wait a"), T(2.8, "wait a moment", final=True)),
                stt_speech_events=False,
                label="wait a moment",
            ),
        ),
        expect=("ignore", "interrupt"),
        duration=5.5,
        replies={"moment": REPLY},
    )
    run = await run_gate(s, make_filter)
    assert_stopped_on(run, emitted(run, "wait"))
    assert [i.transcript for i in run.interruptions] == ["wait"]
    (turn,) = user_turns(run)
    assert turn.endswith("wait a moment")
    # (the framework may start a preemptive reply on the late "yeah" final; the turn replaces it)
    assert normalize(run.offline.llm.user_texts[-1]).endswith("wait a moment")
    assert ("assistant", REPLY) in run.offline.chat_messages()


# ------------------------------------------------------------------------------- finals alone


async def test_finals_without_interims(make_filter):
    """A provider that sends finals only: "yeah" and "uh-huh" are still backchannels (no gap, no
    cut, nothing in the conversation), and "hold on a second" still stops the agent within 50 ms
    of its final and becomes the turn."""
    s = Scenario(
        name="finals-only",
        title="finals without interims",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.say("yeah", at=1.0, interims=False),
            UserSpeech.say("uh-huh", at=2.2, interims=False),
            UserSpeech.say("hold on a second", at=3.4, interims=False),
        ),
        expect=("ignore", "ignore", "interrupt"),
        duration=7.0,
        replies={"second": REPLY},
    )
    run = await run_gate(s, make_filter)
    assert [e.type.value for e in run.offline.stt.emitted if e.text].count("interim_transcript") == 0
    assert_no_gaps_or_cuts(run, 0.5, 4.5)
    assert [b.transcript for b in run.backchannels] == ["yeah", "uh-huh"]
    assert all(d.final for d in run.decisions)
    assert [(d.transcript, d.decision.action) for d in run.decisions] == [
        ("yeah", Action.IGNORE),
        ("uh-huh", Action.IGNORE),
        ("hold on a second", Action.INTERRUPT),
    ]
    assert_stopped_on(run, emitted(run, "hold on a second", final=True))
    assert user_turns(run) == ["hold on a second"]
    assert set(run.offline.llm.user_texts) == {"hold on a second"}


# ---------------------------------------------------------------------- text after the agent stops


async def test_text_after_the_agent_stopped_is_a_turn(make_filter):
    """Transcripts that arrive after the agent finished on its own are a normal user turn: a
    question spoken over the agent's last words whose text all comes late, a late "okay", and a
    "yeah" whose interim came while the agent spoke (held) and whose final came after it stopped."""
    question = Scenario(
        name="late-question",
        title="a question over the agent's last words, all its text after the agent stopped",
        agent_says="Your order has shipped today.",
        user=(UserSpeech.say("when will it arrive", at=1.2, first_text_after=1.8),),
        expect=("turn",),
        duration=5.0,
        replies={"arrive": "Tomorrow."},
    )
    okay = Scenario(
        name="late-okay",
        title="okay, its final after the agent stopped",
        agent_says="Your order has shipped today, and the courier will call you.",
        user=(UserSpeech.say("okay", at=3.0, first_text_after=1.2, interims=False),),
        expect=("turn",),
        duration=6.0,
        replies={"okay": "Anything else?"},
    )
    yeah = Scenario(
        name="late-final",
        title="yeah: interim while the agent speaks, final after it stopped",
        agent_says="Shall I book it?",
        user=(UserSpeech(start=0.6, end=1.4, transcripts=(T(0.8, "yeah"), T(2.0, "yeah", final=True)), label="yeah"),),
        expect=("turn",),
        duration=4.5,
        replies={"yeah": "Done."},
    )
    runs = await asyncio.gather(*(run_gate(s, make_filter) for s in (question, okay, yeah)))
    for run in runs:
        said = run.scenario.user[0].label
        # the agent's first line played out: no interruption, no cut
        assert run.interruptions == [] and cuts(run) == [], run.scenario.name
        final = next(e for e in run.offline.stt.emitted if e.type.value == "final_transcript")
        assert final.at > run.offline.audio_output.segment_starts[0] + run.offline.tts.duration_of(run.scenario.agent_says) - 0.05
        assert user_turns(run) == [normalize(said)], run.scenario.name
        assert set(run.offline.llm.user_texts) == {said}, run.scenario.name
        reply = next(iter(run.scenario.replies.values()))
        assert ("assistant", reply) in run.offline.chat_messages(), run.scenario.name
        assert run.backchannels == [], run.scenario.name
    yeah_run = runs[2]
    held = [d for d in yeah_run.decisions if d.agent_state == "speaking"]
    assert held and held[0].decision.action is Action.IGNORE, "the interim should have been held"


# ------------------------------------------------------------------------------- an STT that is mute


async def test_mute_stt_does_not_hang_and_long_speech_still_interrupts(make_filter):
    """An STT that accepts the audio and never answers: a short sound does not interrupt, speech
    over the agent for longer than ``no_transcript_timeout`` does (while the user still speaks),
    the session keeps running with the agent silent, and it closes on time."""
    s = Scenario(
        name="mute",
        title="the STT never sends anything",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.say("yeah", at=1.0),
            UserSpeech.say("no no stop please stop talking now", at=2.5, duration=3.0),
            UserSpeech.say("hello are you there", at=6.5),
        ),
        expect=("ignore", "interrupt", "turn"),
        duration=8.5,
    )
    run = await run_gate(s, make_filter, stt_options={"mute": True})
    clock, out = run.offline.clock, run.offline.audio_output
    assert run.offline.stt.emitted == []
    assert_no_gaps_or_cuts(run, 0.5, 2.5)
    (interruption,) = run.interruptions
    assert interruption.reason == "no_transcript" and interruption.transcript == ""
    onset = next(t for t, kind in run.offline.scripted_vad.events if t >= clock.wall(2.5))
    stop = out.stop_after(onset)
    assert stop is not None and 2.0 <= stop.at - onset < 3.0
    # no words, so nothing for the LLM; the agent is not left thinking or speaking
    assert run.offline.llm.calls == [] and run.decisions == [] and run.backchannels == []
    states = [e.what for e in run.offline.timeline if e.source == "agent" and e.t < s.duration]
    assert states[-1] == "agent speaking -> listening"


# --------------------------------------------------------------- a held backchannel, then a command


@pytest.mark.parametrize("shape", ["two-voices", "one-breath"])
async def test_held_backchannel_does_not_delay_a_command(make_filter, shape):
    """A "yeah" still held (within ``answer_window`` of its end, or still part of the open
    utterance) does not delay a "stop" right after it: the agent's audio stops within 50 ms of
    the first transcript carrying "stop" (measured on the loudspeaker's timeline).

    two-voices: "yeah", 0.75 s of silence, "stop" (two VAD segments, STT END_OF_SPEECH after
    "yeah": it is a swallowed backchannel waiting out its answer window). one-breath: "yeah stop"
    with a 0.25 s pause (one VAD segment, no STT speech events: "yeah" is a final inside the open
    utterance)."""
    if shape == "two-voices":
        yeah = UserSpeech.say("yeah", at=1.0)
        stop = UserSpeech.say("stop", at=2.1)
    else:
        yeah = replace(UserSpeech.say("yeah", at=1.0), stt_speech_events=False)
        stop = replace(UserSpeech.say("stop", at=1.6), stt_speech_events=False)
    s = Scenario(
        name=f"held-{shape}",
        title="yeah, then stop",
        agent_says=MONOLOGUE,
        user=(yeah, stop),
        expect=("ignore", "interrupt"),
        duration=5.0,
        replies={"stop": REPLY},
    )
    run = await run_gate(s, make_filter, answer_window=1.0)
    yeah_final = emitted(run, "yeah", final=True)
    stop_ev = next(e for e in run.offline.stt.emitted if "stop" in e.text.split())
    if shape == "two-voices":
        assert stop_ev.at - yeah_final.at < 1.0, "the stop must come within the answer window"
    latency = assert_stopped_on(run, stop_ev)
    print(f"\n{shape}: agent audio stopped {latency * 1e3:.1f} ms after the first 'stop' transcript")
    (turn,) = user_turns(run)
    if shape == "two-voices":
        # the "yeah" was feedback: reported, not prepended to the command
        assert [b.transcript for b in run.backchannels] == ["yeah"]
        assert turn == "stop"
    else:
        assert turn == "yeah stop"
    assert ("assistant", REPLY) in run.offline.chat_messages()
