"""Real speech through the real Silero VAD, in a real AgentSession with the gate.

``tests/fixtures/yeah.wav`` and ``no_stop.wav`` are espeak-ng speech (see fixtures/README.md),
pushed into the session's microphone in real time. Silero (livekit-plugins-silero, offline) must
hear both; the STT is scripted to transcribe them. "yeah" must not touch the agent's audio,
"no stop" must stop it within 50 ms of its transcript.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit.plugins import silero

from softack.demo import INSTRUCTIONS, MONOLOGUE
from softack.gate import SoftAckAgent, turn_handling
from softack.testing import OfflineSession, TranscriptStep, UserSpeech, read_wav

from . import looplag

# every test here samples how long its event loop was kept off the CPU (tests/looplag.py)
pytestmark = pytest.mark.usefixtures("loop_lag")

FIXTURES = Path(__file__).parent / "fixtures"


async def test_real_speech_through_silero(make_filter):
    yeah_s, rate = read_wav(FIXTURES / "yeah.wav")
    stop_s, _ = read_wav(FIXTURES / "no_stop.wav")
    yeah_at, stop_at = 1.0, 3.0
    yeah_len, stop_len = len(yeah_s) / rate, len(stop_s) / rate
    # what a streaming STT would send for that audio, shortly after each word
    user = [
        UserSpeech(
            start=yeah_at,
            end=yeah_at + yeah_len,
            transcripts=(
                TranscriptStep(yeah_at + yeah_len, "yeah"),
                TranscriptStep(yeah_at + yeah_len + 0.25, "yeah", final=True),
            ),
        ),
        UserSpeech(
            start=stop_at,
            end=stop_at + stop_len,
            transcripts=(
                TranscriptStep(stop_at + 0.4, "no"),
                TranscriptStep(stop_at + stop_len + 0.25, "no stop", final=True),
            ),
        ),
    ]
    off = OfflineSession(
        user=user,
        vad=silero.VAD.load(),
        input_sample_rate=rate,
        turn_handling=turn_handling(turn_detection="vad"),
    )
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter())
    heard: list[float] = []
    backchannels: list[str] = []
    agent.on("backchannel", lambda ev: backchannels.append(ev.transcript))
    off.session.on("user_state_changed", lambda ev: ev.new_state == "speaking" and heard.append(ev.created_at))
    try:
        await off.start(agent, say=MONOLOGUE)
        off.audio_input.push_wav(FIXTURES / "yeah.wav", at=off.clock.wall(yeah_at))
        off.audio_input.push_wav(FIXTURES / "no_stop.wav", at=off.clock.wall(stop_at))
        await off.run_until(5.5)
    finally:
        await off.aclose()

    clock, out = off.clock, off.audio_output
    # Silero heard the user twice; the session dates each onset back to where it places the start
    # of the speech, which must be where the audio was put (within a 32 ms window or two), later
    # only by the time the process was kept off the CPU (Silero runs behind real time then)
    onsets = [clock.rel(t) for t in heard]
    assert len(onsets) == 2, onsets
    for onset, at in zip(onsets, (yeah_at, stop_at)):
        starved = looplag.current().starved_between(clock.wall(at), clock.wall(onset))
        assert -0.1 < onset - at < 0.1 + starved, (onsets, f"loop off the CPU {starved * 1e3:.1f} ms")

    # "yeah": the agent played on, no pause, no gap, nothing in the conversation
    assert out.pauses == [] and [g for g in out.gaps if g.duration > 0.02] == []
    assert all(out.audible_at(clock.wall(t)) for t in (yeah_at, yeah_at + 0.5, yeah_at + 1.0, stop_at))
    assert backchannels == ["yeah"]

    # "no stop": stopped within 50 ms of the first transcript carrying "no"
    no = next(e for e in off.stt.emitted if e.text == "no")
    stop = out.stop_after(no.at - 1.0)
    assert stop is not None and out.audible_at(no.at - 0.01)
    starved = looplag.current().starved_between(no.at, stop.at)  # zero on a quiet machine (tests/looplag.py)
    assert 0.0 <= stop.at - no.at <= 0.050 + starved, f"{(stop.at - no.at) * 1e3:.1f} ms, {starved * 1e3:.1f} ms off the CPU"
    assert off.user_messages() == ["no stop"]
    assert set(off.llm.user_texts) == {"no stop"}
