"""The offline harness's own promises (``softack.testing``), checked on the timelines it records.

Every other scenario test trusts these: a transcript is sent at its scripted time and never early,
nothing is lost or sent twice across a reconnect, audio placed on the microphone's timeline lands on
the right sample however late it is read, and the loudspeaker records each frame where it would be
heard, with pauses, underruns and cuts accounted for to the sample. The assertions compare the
recorded times with one another and with the script, never with a wall-clock budget, so a busy
machine makes these tests slower, not red.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import vad
from livekit.agents.stt import SpeechEventType

from softack.testing import (
    LiveAudioInput,
    RealtimeAudioOutput,
    ScenarioClock,
    ScriptedSTT,
    ScriptedVAD,
    STTFault,
    TranscriptStep,
    UserSpeech,
)

# asyncio's timers run on the monotonic clock, the harness records time.time(): allow for the two
# disagreeing by a little. This only loosens the "never early" checks.
CLOCK_SLACK = 0.005
RATE = 16000


def _frame(seconds: float, level: int = 1000) -> rtc.AudioFrame:
    n = round(seconds * RATE)
    data = np.full(n, level, dtype=np.int16)
    return rtc.AudioFrame(data=data.tobytes(), sample_rate=RATE, num_channels=1, samples_per_channel=n)


def _heard(out: RealtimeAudioOutput, segment: int = 1) -> float:
    return sum(f.end - f.start for f in out.frames if f.segment == segment)


# ------------------------------------------------------------------------------------------ script


def test_say_scripts_interims_word_by_word_then_the_final():
    s = UserSpeech.say("no stop now", at=1.0, duration=0.9, stt_delay=0.3)
    assert (s.start, s.end) == (1.0, 1.9)
    assert [(round(t.at, 6), t.text, t.final) for t in s.transcripts] == [
        (1.6, "no", False),
        (1.9, "no stop", False),
        (2.2, "no stop now", True),
    ]


def test_a_slow_stt_sends_nothing_before_its_first_text():
    s = UserSpeech.say("no stop now", at=1.0, duration=0.9, stt_delay=0.3, first_text_after=1.0)
    assert [round(t.at, 6) for t in s.transcripts] == [2.0, 2.0, 2.2]


def test_stt_script_brackets_each_utterance_with_speech_events_in_time_order():
    late = UserSpeech(
        start=0.0,
        end=0.5,
        transcripts=(TranscriptStep(0.4, "yeah", final=True),),
        stt_start_at=0.6,  # a provider that signals speech after the text
        stt_end_at=0.2,
    )
    plain = UserSpeech.say("ok", at=1.0, duration=0.4, stt_delay=0.1)
    script = ScriptedSTT(ScenarioClock(), [plain, late]).script()
    T = SpeechEventType
    assert [(kind, text, i) for _, kind, text, i in script] == [
        (T.END_OF_SPEECH, "", 0),
        (T.FINAL_TRANSCRIPT, "yeah", 0),
        (T.START_OF_SPEECH, "", 0),
        (T.START_OF_SPEECH, "", 1),
        (T.INTERIM_TRANSCRIPT, "ok", 1),
        (T.FINAL_TRANSCRIPT, "ok", 1),
        (T.END_OF_SPEECH, "", 1),
    ]
    times = [at for at, *_ in script]
    assert times == sorted(times)
    first_text, last_text = 1.0 + 0.4 * 0.6 + 0.05, 1.0 + 0.4 + 0.1
    assert times[3] < first_text and times[6] > last_text


# --------------------------------------------------------------------------------------------- STT


async def _emit_all(stt_: ScriptedSTT, clock: ScenarioClock) -> None:
    stream = stt_.stream()
    clock.start()
    async with stream:
        stream.end_input()
        async for _ in stream:
            pass


async def test_stt_sends_every_scripted_event_once_in_order_and_never_early():
    clock = ScenarioClock()
    speeches = [UserSpeech.say("yeah", at=0.05, duration=0.1, stt_delay=0.05), UserSpeech.say("no stop", at=0.2, duration=0.2, stt_delay=0.05)]
    stt_ = ScriptedSTT(clock, speeches)
    await _emit_all(stt_, clock)
    script = stt_.script()
    assert [(e.type, e.text, e.speech) for e in stt_.emitted] == [(k, text, i) for _, k, text, i in script]
    for e, (at, *_) in zip(stt_.emitted, script):
        assert clock.rel(e.at) >= at - CLOCK_SLACK, (e, at)
    sent = [e.at for e in stt_.emitted]
    assert sent == sorted(sent)


async def test_stt_carries_on_the_script_after_a_reconnect():
    clock = ScenarioClock()
    speeches = [UserSpeech.say("one two three four", at=0.05, duration=0.3, stt_delay=0.05)]
    stt_ = ScriptedSTT(clock, speeches, faults=[STTFault(at=0.2)])
    await _emit_all(stt_, clock)
    assert (stt_.streams, stt_.runs, len(stt_.failures)) == (1, 2, 1)
    script = stt_.script()
    assert [(e.type, e.text) for e in stt_.emitted] == [(k, text) for _, k, text, _ in script]
    failed_at = stt_.failures[0][0]
    assert clock.rel(failed_at) >= 0.2 - CLOCK_SLACK
    # events due while the connection was down go out after it, none before its time
    for e, (at, *_) in zip(stt_.emitted, script):
        assert clock.rel(e.at) >= at - CLOCK_SLACK
        if at > 0.2:
            assert e.at >= failed_at


async def test_a_mute_stt_sends_nothing():
    clock = ScenarioClock()
    stt_ = ScriptedSTT(clock, [UserSpeech.say("hello", at=0.0, duration=0.1, stt_delay=0.0)], mute=True)
    await _emit_all(stt_, clock)
    assert stt_.emitted == []


# --------------------------------------------------------------------------------------------- VAD


async def test_vad_starts_and_ends_speech_on_the_scripted_windows():
    clock = ScenarioClock()
    w = 0.032
    v = ScriptedVAD(clock, [UserSpeech.sound(at=0.1, duration=0.2)], min_speech_duration=0.05, min_silence_duration=0.1, window=w)
    stream = v.stream()
    clock.start()
    events: list[vad.VADEvent] = []
    try:
        async for ev in stream:
            events.append(ev)
            if ev.type is vad.VADEventType.END_OF_SPEECH:
                break
    finally:
        await stream.aclose()
    inferences = [e.timestamp for e in events if e.type is vad.VADEventType.INFERENCE_DONE]
    assert inferences == pytest.approx([w * (k + 1) for k in range(len(inferences))])
    # the window at t is voiced when its middle is: windows 4..9 (0.128..0.288 s)
    voiced = [t for t in inferences if 0.1 <= t - w / 2 < 0.3]
    sos = next(e for e in events if e.type is vad.VADEventType.START_OF_SPEECH)
    eos = next(e for e in events if e.type is vad.VADEventType.END_OF_SPEECH)
    # START once min_speech_duration of voice has accumulated, END once min_silence_duration of silence has
    assert sos.timestamp == pytest.approx(voiced[1]) and sos.speech_duration == pytest.approx(2 * w)
    assert eos.timestamp == pytest.approx(voiced[-1] + 4 * w) and eos.silence_duration == pytest.approx(4 * w)
    assert [kind for _, kind in v.events] == [vad.VADEventType.START_OF_SPEECH, vad.VADEventType.END_OF_SPEECH]


# ---------------------------------------------------------------------------------------- microphone


async def test_microphone_places_audio_on_its_sample_timeline_even_when_read_late():
    mic = LiveAudioInput(sample_rate=RATE, frame_duration=0.02)
    first = await mic.__anext__()
    assert first.samples_per_channel == 320 and not np.frombuffer(first.data, dtype=np.int16).any()
    t0 = mic.push_audio(np.zeros(0, dtype=np.int16)) - 0.02  # "after what is queued": frame 1
    marker = np.arange(1, 101, dtype=np.int16)
    assert mic.push_audio(marker, at=t0 + 0.1) == pytest.approx(t0 + 0.1)
    await asyncio.sleep(0.15)  # fall behind the marker
    frames = [first] + [await mic.__anext__() for _ in range(9)]
    samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    at = round(0.1 * RATE)
    assert np.array_equal(samples[at : at + 100], marker)
    assert not samples[:at].any() and not samples[at + 100 :].any()
    mic.close()
    with pytest.raises(StopAsyncIteration):
        await mic.__anext__()


# --------------------------------------------------------------------------------------- loudspeaker


async def test_loudspeaker_plays_frames_back_to_back_from_the_first():
    out = RealtimeAudioOutput()
    for _ in range(3):
        await out.capture_frame(_frame(0.1))
    out.flush()
    starts = [f.start for f in out.frames]
    assert starts == pytest.approx([starts[0], starts[0] + 0.1, starts[0] + 0.2])
    assert out.segment_starts == [starts[0]] and out.gaps == []
    assert out.heard_intervals() == [pytest.approx((starts[0], starts[0] + 0.3))]
    assert out.frames[0].rms == pytest.approx(1000 / 32768)
    finished = await out.wait_for_playout()
    assert (finished.interrupted, finished.playback_position) == (False, pytest.approx(0.3))
    assert out.audible_at(starts[0] + 0.15) and not out.audible_at(starts[0] + 0.31)


async def test_loudspeaker_records_an_underrun_where_audio_ran_out():
    out = RealtimeAudioOutput()
    await out.capture_frame(_frame(0.05))
    await asyncio.sleep(0.1)  # the next frame comes after the first has played out
    await out.capture_frame(_frame(0.05))
    a, b = out.frames
    [gap] = out.gaps
    assert (gap.start, gap.end, gap.cause, gap.segment) == (a.end, b.start, "underrun", 1)
    assert gap.duration >= 0.05 - CLOCK_SLACK


async def test_pause_holds_the_unplayed_audio_and_resume_plays_all_of_it():
    out = RealtimeAudioOutput()
    await out.capture_frame(_frame(0.2))
    await out.capture_frame(_frame(0.2))
    await asyncio.sleep(0.05)
    out.pause()
    await out.capture_frame(_frame(0.1))  # arrives while paused: held too
    [paused_at] = out.pauses
    assert all(f.end <= paused_at for f in out.frames)  # nothing is heard after the pause
    await asyncio.sleep(0.05)
    out.resume()
    [resumed_at] = out.resumes
    [gap] = [g for g in out.gaps if g.cause == "pause"]
    assert (gap.start, gap.end) == (paused_at, resumed_at)
    after = [f for f in out.frames if f.start >= resumed_at]
    assert after[0].start == pytest.approx(resumed_at, abs=1e-3)
    assert [f.end for f in after[:-1]] == [f.start for f in after[1:]]  # back to back again
    assert _heard(out) == pytest.approx(0.5)  # nothing lost, nothing played twice
    out.flush()
    finished = await out.wait_for_playout()
    assert (finished.interrupted, finished.playback_position) == (False, pytest.approx(0.5))


async def test_clear_buffer_cuts_the_audio_and_accounts_for_every_sample():
    out = RealtimeAudioOutput()
    await out.capture_frame(_frame(0.3))
    await out.capture_frame(_frame(0.3))
    await asyncio.sleep(0.05)
    out.clear_buffer()
    [stop] = out.stops
    assert stop.was_playing and stop.at == stop.cleared_at
    assert all(f.end <= stop.at for f in out.frames)
    assert stop.played == pytest.approx(_heard(out))
    assert stop.played + stop.dropped == pytest.approx(0.6)
    assert out.stop_after(stop.at) is stop
    finished = await out.wait_for_playout()
    assert finished.interrupted and finished.playback_position == pytest.approx(stop.played)


async def test_clear_after_pause_stops_the_audio_at_the_pause():
    out = RealtimeAudioOutput()
    await out.capture_frame(_frame(0.3))
    await asyncio.sleep(0.05)
    out.pause()
    await asyncio.sleep(0.05)
    out.clear_buffer()
    [stop] = out.stops
    assert (stop.at, stop.was_playing) == (out.pauses[0], True)
    assert stop.cleared_at > stop.at
    assert stop.played + stop.dropped == pytest.approx(0.3)
    assert out.gaps == []  # a pause that ends in a cut never resumed: no gap inside the audio


# ------------------------------------------------------------ the gate tests' loop-lag allowance


async def test_loop_lag_excuses_time_off_the_cpu_and_not_work_done_on_the_loop(loop_lag):
    """The gate tests' latency bounds allow what the loop's thread spent waiting for the CPU, never
    what it spent running: a gate that blocked the loop with work would not be excused."""
    import time

    await asyncio.sleep(0.03)  # a few quiet samples
    start = time.time()
    time.sleep(0.12)  # the thread does not run (as when the OS gives the CPU to other work)
    await asyncio.sleep(0.02)
    off_cpu = loop_lag.starved_between(start, time.time())
    busy_from, cpu_from = time.time(), time.thread_time()
    while time.time() - busy_from < 0.12:  # the thread runs: work done on the loop, like a slow decision
        pass
    ran, busy_wall = time.thread_time() - cpu_from, time.time() - busy_from
    await asyncio.sleep(0.02)
    on_cpu = loop_lag.starved_between(busy_from, time.time())
    assert 0.10 <= off_cpu <= 0.2, off_cpu
    # what the loop ran is never excused: at most the part of those 120 ms the OS gave to others
    # (none on a quiet machine), plus a sample's worth of slack
    assert on_cpu <= (busy_wall - ran) + 0.03, (on_cpu, busy_wall, ran)
