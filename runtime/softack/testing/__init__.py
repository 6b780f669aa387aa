"""An offline harness for a real ``livekit.agents.AgentSession``: no room, no keys, no network.

Every part plugs into the framework through its public classes, so the session under test is the
stock one, unmodified:

- ``ScenarioClock``: the reference time. Scripted events are given in seconds after it.
- ``LiveAudioInput``: a microphone. It delivers 20 ms frames in real time, silence unless speech
  audio was queued (``push_audio``, ``push_wav``).
- ``RealtimeAudioOutput``: a loudspeaker. It plays frames on a real-time clock and records when
  each one would be heard, supports ``pause``/``resume``/``clear_buffer``, and reports gaps in the
  audio and the moments playback was cut.
- ``ScriptedVAD``: Silero's state machine run on a script instead of audio: START_OF_SPEECH,
  INFERENCE_DONE every 32 ms, END_OF_SPEECH after 0.55 s of silence.
- ``ScriptedSTT``: a streaming STT whose stream emits START_OF_SPEECH, INTERIM_TRANSCRIPT,
  FINAL_TRANSCRIPT and END_OF_SPEECH at scripted times, in any order; it can lose its connection
  at scripted times (``STTFault``) or never answer at all (``mute``).
- ``ScriptedLLM``: canned replies; records the chat context of every call.
- ``ToneTTS``: a quiet tone whose length is proportional to the text.
- ``UserSpeech``: one user utterance, the script shared by the VAD and the STT.
- ``OfflineSession``: builds the session from those parts and records a timeline of what happened.

The demo, the tests and the benchmark all drive the session through this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    NotGivenOr,
    llm,
    stt,
    tts,
    utils,
    vad,
)
from livekit.agents.voice import Agent, AgentSession
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities

__all__ = [
    "ScenarioClock",
    "LiveAudioInput",
    "RealtimeAudioOutput",
    "HeardFrame",
    "PlaybackGap",
    "PlaybackStop",
    "TranscriptStep",
    "UserSpeech",
    "ScriptedVAD",
    "ScriptedSTT",
    "STTFault",
    "EmittedSpeechEvent",
    "ScriptedLLM",
    "LLMCall",
    "ToneTTS",
    "OfflineSession",
    "TimelineEntry",
    "read_wav",
]


# --------------------------------------------------------------------------------------- clock


class ScenarioClock:
    """The reference time of a scenario; scripted parts wait for ``start()`` and count from it."""

    def __init__(self) -> None:
        self._t0: float | None = None
        self._started = asyncio.Event()

    def start(self, t0: float | None = None) -> None:
        """Set the reference to now (or to the wall-clock time ``t0``)."""
        self._t0 = time.time() if t0 is None else t0
        self._started.set()

    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def t0(self) -> float:
        if self._t0 is None:
            raise RuntimeError("the scenario clock has not started")
        return self._t0

    def now(self) -> float:
        """Seconds since the reference."""
        return time.time() - self.t0

    def rel(self, wall: float) -> float:
        """A wall-clock time (``time.time()``) as seconds since the reference."""
        return wall - self.t0

    def wall(self, offset: float) -> float:
        """Seconds since the reference as a wall-clock time."""
        return self.t0 + offset

    async def wait_started(self) -> None:
        await self._started.wait()

    async def sleep_until(self, offset: float) -> None:
        """Sleep until ``offset`` seconds after the reference."""
        await self.wait_started()
        delay = self.t0 + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


# --------------------------------------------------------------------------------------- input


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM samples and the sample rate of a WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0].copy()
        return data, w.getframerate()


class LiveAudioInput(AudioInput):
    """A microphone: 20 ms frames in real time, silence unless audio was placed on its timeline.

    Frame ``k`` holds the samples of [t0 + k * frame_duration, t0 + (k + 1) * frame_duration)
    and is delivered at the end of that span, t0 being when the first frame was asked for. Audio is placed on that timeline at a wall-clock time
    (``push_audio(samples, at=...)``), so a reader that falls behind gets the right audio late,
    never audio early or shifted.

    Args:
        sample_rate: samples per second of every frame.
        frame_duration: seconds per frame.
    """

    def __init__(self, *, sample_rate: int = 16000, frame_duration: float = 0.02) -> None:
        super().__init__(label="LiveAudioInput")
        self.sample_rate = sample_rate
        self.frame_duration = frame_duration
        self._n = int(sample_rate * frame_duration)
        self._t0: float | None = None
        self._index = 0
        # (first sample, samples) on the timeline; placed before the first frame they wait for t0
        self._placed: list[tuple[int, np.ndarray]] = []
        self._pending: list[tuple[float | None, np.ndarray]] = []
        self._end_sample = 0  # where audio placed "after what is queued" begins
        self._closed = False

    def push_audio(self, samples: np.ndarray, *, at: float | None = None) -> float:
        """Place int16 mono samples (at ``sample_rate``) to be heard from wall-clock time ``at``
        (default: now, or after audio already placed). Returns when they start (wall clock)."""
        samples = np.asarray(samples, dtype=np.int16)
        if self._t0 is None:
            self._pending.append((at, samples))
            return at if at is not None else time.time()
        if at is None:
            first = max(self._end_sample, self._index * self._n)
        else:
            first = max(0, round((at - self._t0) * self.sample_rate))
        self._placed.append((first, samples))
        self._end_sample = max(self._end_sample, first + len(samples))
        return self._t0 + first / self.sample_rate

    def push_wav(self, path: str | Path, *, at: float | None = None) -> float:
        """Place a mono 16-bit WAV file at this input's sample rate (see ``push_audio``);
        returns its duration."""
        samples, rate = read_wav(path)
        if rate != self.sample_rate:
            raise ValueError(f"{path} is {rate} Hz; this input runs at {self.sample_rate} Hz")
        self.push_audio(samples, at=at)
        return len(samples) / rate

    def close(self) -> None:
        """End the stream: the session's audio forwarding stops."""
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        if self._t0 is None:
            self._t0 = time.time()
            pending, self._pending = self._pending, []
            for at, samples in pending:
                self.push_audio(samples, at=at)
        # like a sound card, a frame is delivered once all of it has been captured
        due = self._t0 + (self._index + 1) * self.frame_duration
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self._closed:
            raise StopAsyncIteration
        lo, hi = self._index * self._n, (self._index + 1) * self._n
        frame = np.zeros(self._n, dtype=np.int16)
        keep = []
        for first, samples in self._placed:
            last = first + len(samples)
            if first < hi and last > lo:
                a, b = max(first, lo), min(last, hi)
                frame[a - lo : b - lo] = samples[a - first : b - first]
            if last > hi:
                keep.append((first, samples))
        self._placed = keep
        self._index += 1
        return rtc.AudioFrame(
            data=frame.tobytes(), sample_rate=self.sample_rate, num_channels=1, samples_per_channel=self._n
        )


# -------------------------------------------------------------------------------------- output


@dataclass
class HeardFrame:
    """One output frame on the loudspeaker's timeline (wall-clock seconds)."""

    start: float
    end: float
    segment: int
    rms: float = 0.0  # level of the frame, 0..1 of full scale


@dataclass(frozen=True)
class PlaybackGap:
    """Silence inside one segment of agent audio: a pause, or audio that arrived too late."""

    start: float
    end: float
    segment: int
    cause: str  # "pause" | "underrun"

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class PlaybackStop:
    """``clear_buffer`` cut a segment: at ``at`` the audio stopped (if it was playing)."""

    at: float
    segment: int
    was_playing: bool
    played: float
    dropped: float
    cleared_at: float = 0.0  # when clear_buffer was called (after ``at`` if it was paused)


class RealtimeAudioOutput(AudioOutput):
    """A loudspeaker on a real-time clock that records what would be heard, and when.

    Frames are scheduled back to back from the moment they arrive, like a sound card with a jitter
    buffer: a frame that arrives after the previous one ran out starts late (an underrun gap).
    ``pause()`` holds the unplayed audio (a pause gap until ``resume()``); ``clear_buffer()`` drops
    it and records the stop. ``playback_finished`` is emitted when a flushed segment has played out
    or when it is cleared, as the framework expects of an audio sink.

    Args:
        sample_rate: the sample rate required of frames; None accepts any.
    """

    def __init__(self, *, sample_rate: int | None = None) -> None:
        super().__init__(
            label="RealtimeAudioOutput",
            capabilities=AudioOutputCapabilities(pause=True),
            next_in_chain=None,
            sample_rate=sample_rate,
        )
        self.frames: list[HeardFrame] = []
        self.gaps: list[PlaybackGap] = []
        self.stops: list[PlaybackStop] = []
        self.pauses: list[float] = []
        self.resumes: list[float] = []
        self.segment_starts: list[float] = []
        self._segment = 0
        self._segment_open = False
        self._segment_flushed = False
        self._capturing = False
        self._clock_end = 0.0
        self._paused_at: float | None = None
        self._paused_playing = False
        self._held: list[tuple[float, float]] = []  # (duration, rms) of frames held by a pause
        self._finish_handle: asyncio.TimerHandle | None = None

    # -- AudioOutput --------------------------------------------------------------------------

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._capturing:
            self._capturing = True
            self._segment += 1
            self._segment_open = True
            self._segment_flushed = False
            first = True
        else:
            first = False
        rms = _rms(frame)
        if self._paused_at is not None:
            self._held.append((frame.duration, rms))
            return
        start = self._schedule(frame.duration, rms)
        if first:
            self.segment_starts.append(start)
            self.on_playback_started(created_at=start)

    def flush(self) -> None:
        super().flush()
        self._capturing = False
        if not self._segment_open:
            return
        self._segment_flushed = True
        self._arm_finish()

    def clear_buffer(self) -> None:
        if not self._segment_open:
            return
        now = time.time()
        played, dropped, playing = 0.0, sum(d for d, _ in self._held), False
        self._held.clear()
        kept: list[HeardFrame] = []
        for f in self.frames:
            if f.segment != self._segment:
                kept.append(f)
                continue
            if f.start >= now:
                dropped += f.end - f.start
                continue
            if f.end > now:
                dropped += f.end - now
                f.end = now
                playing = True
            played += f.end - f.start
            kept.append(f)
        self.frames = kept
        self._clock_end = min(self._clock_end, now)
        at = now
        if self._paused_at is not None:
            # paused audio was already silent: it stopped being heard at the pause
            at, playing = self._paused_at, self._paused_playing
        self.stops.append(
            PlaybackStop(
                at=at,
                segment=self._segment,
                was_playing=playing,
                played=played,
                dropped=dropped,
                cleared_at=now,
            )
        )
        self._finish(interrupted=True)

    def pause(self) -> None:
        if self._paused_at is not None:
            return
        now = time.time()
        self._paused_at = now
        self.pauses.append(now)
        # audio not heard yet waits for resume(): the frame being played is cut where it is
        held: list[tuple[float, float]] = []
        kept: list[HeardFrame] = []
        for f in self.frames:
            if f.segment == self._segment and f.end > now:
                if f.start >= now:
                    held.append((f.end - f.start, f.rms))
                    continue
                held.append((f.end - now, f.rms))
                f.end = now
            kept.append(f)
        self.frames = kept
        self._paused_playing = bool(held)
        self._held = held + self._held
        self._clock_end = min(self._clock_end, now)
        self._cancel_finish()

    def resume(self) -> None:
        if self._paused_at is None:
            return
        now = time.time()
        paused_at, self._paused_at = self._paused_at, None
        self.resumes.append(now)
        if self._held and self._segment_open:
            self.gaps.append(PlaybackGap(paused_at, now, self._segment, "pause"))
        self._clock_end = now
        held, self._held = self._held, []
        for duration, rms in held:
            self._schedule(duration, rms)
        if self._segment_flushed:
            self._arm_finish()

    # -- scheduling ---------------------------------------------------------------------------

    def _schedule(self, duration: float, rms: float) -> float:
        now = time.time()
        start = self._clock_end
        if start < now:
            previous = self.frames[-1] if self.frames else None
            if previous is not None and previous.segment == self._segment and now - start > 1e-3:
                self.gaps.append(PlaybackGap(start, now, self._segment, "underrun"))
            start = now
        self.frames.append(HeardFrame(start, start + duration, self._segment, rms))
        self._clock_end = start + duration
        return start

    def _arm_finish(self) -> None:
        self._cancel_finish()
        if self._paused_at is not None:
            return
        delay = max(0.0, self._clock_end - time.time())
        self._finish_handle = asyncio.get_running_loop().call_later(
            delay, self._finish, False
        )

    def _cancel_finish(self) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None

    def _finish(self, interrupted: bool) -> None:
        self._cancel_finish()
        if not self._segment_open:
            return
        self._segment_open = False
        position = sum(f.end - f.start for f in self.frames if f.segment == self._segment)
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    # -- measurements -------------------------------------------------------------------------

    def audible_at(self, t: float) -> bool:
        """Whether agent audio is heard at wall-clock time ``t``."""
        return any(f.start <= t < f.end for f in self.frames)

    def heard_intervals(self, *, join: float = 0.005) -> list[tuple[float, float]]:
        """Stretches of continuous audio (wall clock), frames closer than ``join`` s merged."""
        out: list[tuple[float, float]] = []
        for f in sorted(self.frames, key=lambda f: f.start):
            if out and f.start - out[-1][1] <= join:
                out[-1] = (out[-1][0], max(out[-1][1], f.end))
            else:
                out.append((f.start, f.end))
        return out

    def gaps_between(self, start: float, end: float, *, min_gap: float = 0.005) -> list[PlaybackGap]:
        """Gaps longer than ``min_gap`` that overlap [start, end] (wall clock)."""
        return [
            g for g in self.gaps if g.duration > min_gap and g.end > start and g.start < end
        ]

    def stop_after(self, t: float) -> PlaybackStop | None:
        """The first cut of playing audio at or after ``t``."""
        for s in self.stops:
            if s.at >= t and s.was_playing:
                return s
        return None

    def levels_between(self, start: float, end: float) -> list[float]:
        """RMS levels of the frames heard in [start, end] (wall clock): a dip shows here."""
        return [f.rms for f in self.frames if f.end > start and f.start < end]

    def audio_end(self) -> float | None:
        """When the last heard frame ends."""
        return max((f.end for f in self.frames), default=None)


def _rms(frame: rtc.AudioFrame) -> float:
    samples = np.frombuffer(frame.data, dtype=np.int16)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768.0)


# --------------------------------------------------------------------------------------- script


@dataclass(frozen=True)
class TranscriptStep:
    """One transcript the STT sends, ``at`` seconds after the clock's start."""

    at: float
    text: str
    final: bool = False


@dataclass(frozen=True)
class UserSpeech:
    """One user utterance: when the voice is heard (VAD) and what the STT sends about it.

    Attributes:
        start: seconds after the clock's start when the voice begins.
        end: when it ends.
        transcripts: what the STT sends, in order. Empty for a sound the STT cannot transcribe.
        stt_speech_events: also send STT START_OF_SPEECH (with the first transcript) and
            END_OF_SPEECH (after the last one), as streaming providers do.
        label: a name for timelines.
        stt_start_at: when the STT sends START_OF_SPEECH, if not just before the first transcript
            (a provider that signals speech late, after text).
        stt_end_at: when the STT sends END_OF_SPEECH, if not just after the last transcript
            (a provider that ends the utterance before its final, or before a stale interim).
    """

    start: float
    end: float
    transcripts: tuple[TranscriptStep, ...] = ()
    stt_speech_events: bool = True
    label: str = ""
    stt_start_at: float | None = None
    stt_end_at: float | None = None

    @classmethod
    def say(
        cls,
        text: str,
        at: float,
        *,
        duration: float | None = None,
        stt_delay: float = 0.3,
        first_text_after: float | None = None,
        interims: bool = True,
    ) -> UserSpeech:
        """A plain utterance: interims grow word by word while it is spoken, the final follows.

        Args:
            text: the words.
            at: when the voice begins.
            duration: how long it lasts; 0.3 s per word (at least 0.35 s) when None.
            stt_delay: how long after a word ends its transcript arrives; the final arrives this
                long after the voice ends.
            first_text_after: a slow STT: no text before this many seconds after ``at``;
                transcripts due earlier arrive then, together.
            interims: send interim transcripts before the final.
        """
        words = text.split()
        if duration is None:
            duration = max(0.35, 0.3 * len(words))
        steps: list[TranscriptStep] = []
        if interims and len(words) > 1:
            for k in range(1, len(words)):
                steps.append(TranscriptStep(at + duration * k / len(words) + stt_delay, " ".join(words[:k])))
        elif interims:
            steps.append(TranscriptStep(at + duration * 0.6 + stt_delay * 0.5, text))
        steps.append(TranscriptStep(at + duration + stt_delay, text, final=True))
        if first_text_after is not None:
            floor = at + first_text_after
            steps = [TranscriptStep(max(s.at, floor), s.text, s.final) for s in steps]
        return cls(start=at, end=at + duration, transcripts=tuple(steps), label=text)

    @classmethod
    def sound(cls, at: float, duration: float, label: str = "(sound)") -> UserSpeech:
        """Voice activity the STT does not transcribe: a cough, a laugh, a failed STT."""
        return cls(start=at, end=at + duration, transcripts=(), label=label)

    @property
    def first_text_at(self) -> float | None:
        texts = [s.at for s in self.transcripts if s.text.strip()]
        return min(texts) if texts else None


# ------------------------------------------------------------------------------------------ VAD


class ScriptedVAD(vad.VAD):
    """Silero's speech/silence state machine run on a script instead of audio.

    Every ``window`` seconds the stream emits INFERENCE_DONE; START_OF_SPEECH after
    ``min_speech_duration`` of scripted voice, END_OF_SPEECH after ``min_silence_duration`` of
    silence, with the same durations in the events as ``silero.VAD`` reports.

    Args:
        clock: the scenario's reference time.
        speeches: the utterances (only ``start``/``end`` are used).
        min_speech_duration: as in ``silero.VAD.load``.
        min_silence_duration: as in ``silero.VAD.load``.
        window: seconds between inferences (Silero: 512 samples at 16 kHz).
    """

    def __init__(
        self,
        clock: ScenarioClock,
        speeches: Iterable[UserSpeech] = (),
        *,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.55,
        window: float = 0.032,
    ) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=window))
        self.clock = clock
        self.speeches = sorted(speeches, key=lambda s: s.start)
        self.min_speech_duration = min_speech_duration
        self.min_silence_duration = min_silence_duration
        self.window = window
        self.events: list[tuple[float, vad.VADEventType]] = []  # (wall time, type) of SOS/EOS

    def stream(self) -> vad.VADStream:
        return _ScriptedVADStream(self)

    def voiced(self, t: float) -> bool:
        return any(s.start <= t < s.end for s in self.speeches)


class _ScriptedVADStream(vad.VADStream):
    def __init__(self, scripted: ScriptedVAD) -> None:
        self._scripted = scripted
        super().__init__(scripted)

    async def _main_task(self) -> None:
        v = self._scripted
        drain = asyncio.create_task(self._drain_input())
        try:
            await v.clock.wait_started()
            speaking = False
            speech_acc = silence_acc = 0.0  # raw run lengths
            pub_speech = pub_silence = 0.0
            n = 0
            while True:
                n += 1
                t = n * v.window
                await v.clock.sleep_until(t)
                voiced = v.voiced(t - v.window / 2)
                if speaking:
                    pub_speech += v.window
                else:
                    pub_silence += v.window
                self._send(
                    vad.VADEventType.INFERENCE_DONE,
                    t,
                    speech=pub_speech,
                    silence=pub_silence,
                    speaking=speaking,
                    probability=0.95 if voiced else 0.02,
                    raw_silence=silence_acc,
                    raw_speech=speech_acc,
                )
                if voiced:
                    speech_acc += v.window
                    silence_acc = 0.0
                    if not speaking and speech_acc >= v.min_speech_duration:
                        speaking = True
                        pub_silence = 0.0
                        pub_speech = speech_acc
                        self._send(vad.VADEventType.START_OF_SPEECH, t, speech=pub_speech, silence=0.0, speaking=True)
                else:
                    silence_acc += v.window
                    speech_acc = 0.0
                    if speaking and silence_acc >= v.min_silence_duration:
                        speaking = False
                        pub_silence = silence_acc
                        self._send(
                            vad.VADEventType.END_OF_SPEECH,
                            t,
                            speech=max(0.0, pub_speech - silence_acc),
                            silence=pub_silence,
                            speaking=False,
                        )
                        pub_speech = 0.0
        finally:
            drain.cancel()

    async def _drain_input(self) -> None:
        async for _ in self._input_ch:
            pass

    def _send(
        self,
        type: vad.VADEventType,
        t: float,
        *,
        speech: float,
        silence: float,
        speaking: bool,
        probability: float = 0.0,
        raw_silence: float = 0.0,
        raw_speech: float = 0.0,
    ) -> None:
        if type is not vad.VADEventType.INFERENCE_DONE:
            self._scripted.events.append((time.time(), type))
        self._event_ch.send_nowait(
            vad.VADEvent(
                type=type,
                samples_index=int(t * 16000),
                timestamp=t,
                speech_duration=speech,
                silence_duration=silence,
                probability=probability,
                speaking=speaking,
                raw_accumulated_silence=raw_silence,
                raw_accumulated_speech=raw_speech,
            )
        )


# ------------------------------------------------------------------------------------------ STT


@dataclass(frozen=True)
class EmittedSpeechEvent:
    """A speech event the scripted STT sent, and when (wall clock)."""

    at: float
    type: stt.SpeechEventType
    text: str
    speech: int  # index of the utterance in ``ScriptedSTT.speeches``


@dataclass(frozen=True)
class STTFault:
    """The scripted STT's connection fails ``at`` seconds after the clock's start.

    Attributes:
        at: when the stream raises.
        retryable: raise a retryable ``APIConnectionError``: the stream's own retry
            (``APIConnectOptions``: the first retry after 0.1 s, then every ``retry_interval``)
            runs it again, unseen by the session. False: raise ``APIError(retryable=False)``: the
            stream ends with the error, ``stt_node`` raises, and the session's STT pipeline
            builds a new stream (and calls ``Agent.stt_node`` again) after its back-off.
        message: the error's message.
    """

    at: float
    retryable: bool = True
    message: str = "scripted STT connection lost"


class ScriptedSTT(stt.STT):
    """A streaming STT whose stream sends scripted events at scripted times.

    Events go out in the order of their times, across utterances: a script can send a final
    before its interims, a stale interim after the final, END_OF_SPEECH before the final
    (``UserSpeech.stt_end_at``), or one utterance's events inside another's.

    The script is the STT's, not one stream's: a stream that reconnects, or a new stream after one
    failed, carries on from the first event not sent yet; events that fell due while the stream
    was down go out as soon as it is back (the audio was buffered meanwhile), none is sent twice.

    Args:
        clock: the scenario's reference time.
        speeches: the utterances whose transcripts to send.
        faults: connection failures (``STTFault``), each raised once, at its time.
        mute: send nothing at all (a provider that accepts the audio and never answers); the
            stream stays open until its input ends.
    """

    def __init__(
        self,
        clock: ScenarioClock,
        speeches: Iterable[UserSpeech] = (),
        *,
        faults: Iterable[STTFault] = (),
        mute: bool = False,
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self.clock = clock
        self.speeches = sorted(speeches, key=lambda s: s.start)
        self.faults = sorted(faults, key=lambda f: f.at)
        self.mute = mute
        self.emitted: list[EmittedSpeechEvent] = []
        self.failures: list[tuple[float, STTFault]] = []  # (wall clock, fault) as raised
        self.streams = 0  # streams opened (a reconnect inside a stream is not a new one)
        self.runs = 0  # connections: a stream's first run and each of its retries
        self._script: list[tuple[float, stt.SpeechEventType, str, int]] | None = None
        self._cursor = 0  # next script event to send
        self._faults_raised = 0
        self._owner = 0  # the run allowed to send: the latest one

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "softack.testing"

    def script(self) -> list[tuple[float, stt.SpeechEventType, str, int]]:
        """All events in time order: (seconds after the clock's start, type, text, utterance index)."""
        T = stt.SpeechEventType
        out: list[tuple[float, stt.SpeechEventType, str, int]] = []
        for i, s in enumerate(self.speeches):
            if not s.transcripts:
                continue
            if s.stt_speech_events:
                start = s.transcripts[0].at - 1e-4 if s.stt_start_at is None else s.stt_start_at
                out.append((start, T.START_OF_SPEECH, "", i))
            for step in s.transcripts:
                kind = T.FINAL_TRANSCRIPT if step.final else T.INTERIM_TRANSCRIPT
                out.append((step.at, kind, step.text, i))
            if s.stt_speech_events:
                end = s.transcripts[-1].at + 1e-4 if s.stt_end_at is None else s.stt_end_at
                out.append((end, T.END_OF_SPEECH, "", i))
        out.sort(key=lambda e: e[0])
        return out

    async def _recognize_impl(
        self, buffer: Any, *, language: Any = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        raise NotImplementedError("ScriptedSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        if self._script is None:
            self._script = [] if self.mute else self.script()
        self.streams += 1
        return _ScriptedRecognizeStream(self, conn_options=conn_options)


class _ScriptedRecognizeStream(stt.RecognizeStream):
    def __init__(self, scripted: ScriptedSTT, *, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=scripted, conn_options=conn_options)
        self._scripted = scripted

    async def _run(self) -> None:
        # one connection: sends the script from where the last one stopped until the next fault
        s = self._scripted
        s.runs += 1
        s._owner = run = s.runs
        script = s._script or []
        drain = asyncio.create_task(self._drain_input())
        try:
            while s._owner == run:
                fault = s.faults[s._faults_raised] if s._faults_raised < len(s.faults) else None
                step = script[s._cursor] if s._cursor < len(script) else None
                if fault is not None and (step is None or fault.at <= step[0]):
                    await s.clock.sleep_until(fault.at)
                    if s._owner != run:
                        break
                    s._faults_raised += 1
                    s.failures.append((time.time(), fault))
                    if fault.retryable:
                        raise APIConnectionError(fault.message)
                    raise APIError(fault.message, retryable=False)
                if step is None:
                    break
                at, kind, text, index = step
                await s.clock.sleep_until(at)
                if s._owner != run:
                    break  # a newer connection took over the script
                s._cursor += 1
                alternatives = (
                    [stt.SpeechData(language="en", text=text, confidence=0.95)]
                    if kind in (stt.SpeechEventType.INTERIM_TRANSCRIPT, stt.SpeechEventType.FINAL_TRANSCRIPT)
                    else []
                )
                ev = stt.SpeechEvent(type=kind, alternatives=alternatives)
                s.emitted.append(EmittedSpeechEvent(ev.created_at, kind, text, index))
                self._event_ch.send_nowait(ev)
            await drain
        finally:
            drain.cancel()

    async def _drain_input(self) -> None:
        async for _ in self._input_ch:
            pass


# ------------------------------------------------------------------------------------------ LLM


@dataclass(frozen=True)
class LLMCall:
    """One request the scripted LLM received."""

    at: float
    chat_ctx: llm.ChatContext
    user_text: str  # the last user message ("" when there is none)
    reply: str


class ScriptedLLM(llm.LLM):
    """Canned replies, streamed a word at a time; every request is recorded in ``calls``.

    Args:
        replies: the reply to give: a mapping from a phrase (matched case-insensitively inside the
            last user message) to a reply, or a function of the last user message. Falls back to
            ``default_reply``.
        default_reply: the reply when nothing matches.
        ttft: seconds before the first word.
    """

    def __init__(
        self,
        replies: Mapping[str, str] | Callable[[str], str] | None = None,
        *,
        default_reply: str = "Sure, here is my answer.",
        ttft: float = 0.1,
    ) -> None:
        super().__init__()
        self.replies = replies
        self.default_reply = default_reply
        self.ttft = ttft
        self.calls: list[LLMCall] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "softack.testing"

    def reply_for(self, user_text: str) -> str:
        if callable(self.replies):
            return self.replies(user_text)
        for phrase, reply in (self.replies or {}).items():
            if phrase.lower() in user_text.lower():
                return reply
        return self.default_reply

    @property
    def user_texts(self) -> list[str]:
        return [c.user_text for c in self.calls]

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedLLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._scripted = scripted

    async def _run(self) -> None:
        user_text = ""
        for item in reversed(self.chat_ctx.items):
            if item.type == "message" and item.role == "user":
                user_text = item.text_content or ""
                break
        reply = self._scripted.reply_for(user_text)
        self._scripted.calls.append(LLMCall(time.time(), self.chat_ctx.copy(), user_text, reply))
        await asyncio.sleep(self._scripted.ttft)
        request_id = utils.shortuuid("scripted_llm_")
        for i, word in enumerate(reply.split(" ")):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role="assistant", content=word if i == 0 else " " + word),
                )
            )
            await asyncio.sleep(0.005)


# ------------------------------------------------------------------------------------------ TTS


class ToneTTS(tts.TTS):
    """Local speech stand-in: a quiet tone, ``seconds_per_char`` of audio per character of text.

    Args:
        seconds_per_char: audio length per character (0.06 s ≈ a speaking rate of 15 chars/s).
            The pitch changes once per syllable, so the audio paces LiveKit's transcript
            synchroniser (speaking-rate estimate) like speech; its level is constant.
        word_timestamps: send word timestamps with the audio (a TTS with alignment; used when the
            session has ``use_tts_aligned_transcript=True``).
        sample_rate: output sample rate.
        frequency: tone frequency in Hz.
        amplitude: peak level, 0..1.
    """

    def __init__(
        self,
        *,
        seconds_per_char: float = 0.06,
        sample_rate: int = 24000,
        frequency: float = 180.0,
        amplitude: float = 0.1,
        word_timestamps: bool = False,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False, aligned_transcript=word_timestamps),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self.word_timestamps = word_timestamps
        self.seconds_per_char = seconds_per_char
        self.frequency = frequency
        self.amplitude = amplitude
        self.texts: list[str] = []

    @property
    def model(self) -> str:
        return "tone"

    @property
    def provider(self) -> str:
        return "softack.testing"

    def duration_of(self, text: str) -> float:
        return len(text.strip()) * self.seconds_per_char

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        self.texts.append(text)
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        t: ToneTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(
            request_id=utils.shortuuid("tone_"),
            sample_rate=t.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        text = self.input_text
        n = int(t.duration_of(text) * t.sample_rate)
        if t.word_timestamps:
            for word in _timed_words(text, t.seconds_per_char):
                output_emitter.push_timed_transcript(word)
        if n > 0:
            phase = 2 * np.pi * np.cumsum(_syllable_pitch(text, n, t.frequency)) / t.sample_rate
            samples = (t.amplitude * 32767 * np.sin(phase)).astype(np.int16)
            output_emitter.push(samples.tobytes())
        output_emitter.flush()


def _char_span(text: str) -> tuple[int, int]:
    """The stripped text's span in ``text`` (the audio covers ``text.strip()``)."""
    lead = len(text) - len(text.lstrip())
    return lead, lead + len(text.strip())


def _timed_words(text: str, seconds_per_char: float) -> list[Any]:
    """Word timestamps as a TTS with alignment gives them: each word (and the space after it) from
    its first to its last character on the audio's character clock."""
    import re

    from livekit.agents.types import TimedString

    lo, _ = _char_span(text)
    out = []
    for m in re.finditer(r"\s*\S+\s*", text):
        word = m.group(0)
        a = m.start() + (len(word) - len(word.lstrip())) - lo
        b = a + len(word.strip())
        out.append(TimedString(word, start_time=max(0, a) * seconds_per_char, end_time=max(0, b) * seconds_per_char))
    return out


def _syllable_pitch(text: str, n: int, base: float) -> np.ndarray:
    """The tone's frequency per sample: one pitch per syllable of the text (on the character
    clock), so LiveKit's speaking-rate estimate (spectral flux) paces the transcript as on speech;
    the level stays constant."""
    from livekit.agents.tokenize.basic import hyphenate_word

    body = text.strip()
    pitches = (1.0, 1.3, 0.85, 1.15, 1.45)
    per_char = np.full(max(1, len(body)), base, dtype=np.float64)
    k = 0
    i = 0
    for word in body.split(" "):
        parts = hyphenate_word(word) if word.strip() else []
        lengths = [len(p) for p in parts] or [len(word)]
        scale = len(word) / max(1, sum(lengths))
        pos = i
        for length in lengths:
            span = max(1, round(length * scale))
            per_char[pos : pos + span] = base * pitches[k % len(pitches)]
            pos += span
            k += 1
        per_char[pos : i + len(word) + 1] = per_char[max(i, pos - 1)] if pos > i else base
        i += len(word) + 1
    idx = np.minimum((np.arange(n) * len(per_char)) // max(1, n), len(per_char) - 1)
    return per_char[idx]


# -------------------------------------------------------------------------------------- session


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened in the session, ``t`` seconds after the clock's start."""

    t: float
    source: str  # "vad", "stt", "agent", "user", "chat", "llm", "audio", "softack", ...
    what: str


class OfflineSession:
    """A real ``AgentSession`` wired to the scripted parts, and a recorder of what happened.

    Args:
        user: the user's utterances (the VAD and the STT script). Ignored for the VAD when ``vad``
            is given (e.g. Silero on real audio pushed into ``audio_input``).
        turn_handling: the session's ``turn_handling``. ``turn_detection`` defaults to ``"vad"``
            (the default would fetch LiveKit's cloud turn detector).
        vad: a VAD to use instead of the scripted one.
        llm: the LLM; a ``ScriptedLLM`` when None.
        tts: the TTS; a ``ToneTTS`` when None.
        input_sample_rate: the microphone's sample rate (of the WAV files pushed into it).
        stt_options: more ``ScriptedSTT`` arguments (``faults``, ``mute``).
        sync_transcript: pace the agent's transcript with its audio as LiveKit's room output does
            (a ``TranscriptSynchronizer`` around the loudspeaker, ``session.output.transcription``
            ending in a ``softack.gate.HeardTranscript``, which ``heard`` names): the gate then
            knows what of the agent's line the caller had heard. False (the
            default): no transcription output, decisions without the agent's line.
        livekit_defaults: keep LiveKit's own defaults for what the two settings below change (its
            default turn detector, the 3 s echo-cancellation warm-up): the configuration users run.
        session_kwargs: more ``AgentSession`` arguments. ``aec_warmup_duration`` defaults to None:
            there is no echo here, and the warm-up would hide interruptions in the first 3 s.
            ``session_close_transcript_timeout`` defaults to 0: closing does not wait for STT.
    """

    def __init__(
        self,
        *,
        user: Sequence[UserSpeech] = (),
        turn_handling: Mapping[str, Any] | None = None,
        vad: vad.VAD | None = None,
        llm: ScriptedLLM | None = None,
        tts: ToneTTS | None = None,
        input_sample_rate: int = 16000,
        stt_options: Mapping[str, Any] | None = None,
        livekit_defaults: bool = False,
        sync_transcript: bool = False,
        **session_kwargs: Any,
    ) -> None:
        self.clock = ScenarioClock()
        self.user = list(user)
        self.audio_input = LiveAudioInput(sample_rate=input_sample_rate)
        self.audio_output = RealtimeAudioOutput()
        self.stt = ScriptedSTT(self.clock, self.user, **dict(stt_options or {}))
        self.scripted_vad = ScriptedVAD(self.clock, self.user) if vad is None else None
        self.vad = vad if vad is not None else self.scripted_vad
        self.llm = llm if llm is not None else ScriptedLLM()
        self.tts = tts if tts is not None else ToneTTS()
        handling = dict(turn_handling or {})
        if not livekit_defaults:
            handling.setdefault("turn_detection", "vad")
            session_kwargs.setdefault("aec_warmup_duration", None)
        # a run ends when the script does: no transcript is worth waiting for at close
        session_kwargs.setdefault("session_close_transcript_timeout", 0.0)
        self.session: AgentSession = AgentSession(
            vad=self.vad,
            stt=self.stt,
            llm=self.llm,
            tts=self.tts,
            turn_handling=handling,  # type: ignore[arg-type]
            **session_kwargs,
        )
        self.session.input.audio = self.audio_input
        self.heard: Any = None
        if sync_transcript:
            from livekit.agents.voice import TranscriptSynchronizer

            from ..gate import HeardTranscript

            # as LiveKit's RoomIO does: the transcript is released in step with the audio played
            self.heard = HeardTranscript()
            self.synchronizer = TranscriptSynchronizer(
                next_in_chain_audio=self.audio_output, next_in_chain_text=self.heard
            )
            self.session.output.audio = self.synchronizer.audio_output
            self.session.output.transcription = self.synchronizer.text_output
        else:
            self.session.output.audio = self.audio_output
        self.timeline: list[TimelineEntry] = []
        self.closed_at: float | None = None
        self._pre_start: list[TimelineEntry] = []
        self._subscribe()

    # -- running ------------------------------------------------------------------------------

    async def start(self, agent: Agent, *, say: str | None = None) -> None:
        """Start the session with ``agent``, start the clock, and have the agent ``say`` something."""
        await self.session.start(agent)
        self.clock.start()
        if say is not None:
            self.session.say(say)

    async def run_until(self, t: float) -> None:
        """Let the session run until ``t`` seconds after the clock's start."""
        await self.clock.sleep_until(t)

    async def wait_for_agent_state(self, state: str, *, timeout: float = 5.0) -> None:
        """Wait until the agent is in ``state``."""
        deadline = time.time() + timeout
        while self.session.agent_state != state:
            if time.time() > deadline:
                raise TimeoutError(f"agent state stayed {self.session.agent_state!r}, wanted {state!r}")
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        """Stop the session now (whatever the agent is saying is cut) and close it."""
        self.closed_at = time.time()
        self.note("run", "end of the run: the session is closed")
        with contextlib.suppress(RuntimeError):
            self.session.interrupt(force=True)
        await self.session.aclose()
        if self.heard is not None:
            await self.synchronizer.aclose()
        self.audio_input.close()

    async def __aenter__(self) -> OfflineSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- what happened ------------------------------------------------------------------------

    def chat_messages(self, role: str | None = None) -> list[tuple[str, str]]:
        """The (role, text) messages in the session's chat context."""
        out = []
        for item in self.session.history.items:
            if item.type == "message" and (role is None or item.role == role):
                out.append((item.role, item.text_content or ""))
        return out

    def user_messages(self) -> list[str]:
        return [text for _, text in self.chat_messages("user")]

    def note(self, source: str, what: str, at: float | None = None) -> None:
        """Add an entry to the timeline (``at`` is wall-clock time; now when None)."""
        wall = time.time() if at is None else at
        if not self.clock.started:
            self._pre_start.append(TimelineEntry(wall, source, what))
            return
        self.timeline.append(TimelineEntry(self.clock.rel(wall), source, what))

    def full_timeline(self) -> list[TimelineEntry]:
        """Everything recorded, with the scripted VAD/STT events and the audio stops, in time order."""
        entries = list(self.timeline)
        if self.clock.started:
            if self.scripted_vad is not None:
                for wall, kind in self.scripted_vad.events:
                    what = "user voice starts (VAD)" if kind is vad.VADEventType.START_OF_SPEECH else "user voice ends (VAD)"
                    entries.append(TimelineEntry(self.clock.rel(wall), "vad", what))
            for ev in self.stt.emitted:
                if ev.type in (stt.SpeechEventType.INTERIM_TRANSCRIPT, stt.SpeechEventType.FINAL_TRANSCRIPT):
                    kind = "final" if ev.type is stt.SpeechEventType.FINAL_TRANSCRIPT else "interim"
                    entries.append(TimelineEntry(self.clock.rel(ev.at), "stt", f'{kind} "{ev.text}"'))
            out = self.audio_output
            for s in out.stops:
                if self.closed_at is not None and s.cleared_at >= self.closed_at:
                    continue  # cut by closing the session, not by anything in the scenario
                if s.was_playing:
                    entries.append(TimelineEntry(self.clock.rel(s.at), "audio", f"agent audio stops ({s.dropped:.1f}s unplayed)"))
            for p in out.pauses:
                entries.append(TimelineEntry(self.clock.rel(p), "audio", "agent audio paused"))
            for r in out.resumes:
                entries.append(TimelineEntry(self.clock.rel(r), "audio", "agent audio resumed"))
            for g in out.gaps:
                entries.append(TimelineEntry(self.clock.rel(g.start), "audio", f"agent audio gap ({g.cause}, {g.duration * 1000:.0f} ms)"))
            for start in out.segment_starts:
                entries.append(TimelineEntry(self.clock.rel(start), "audio", "agent audio starts"))
        if self.closed_at is not None:
            end = self.clock.rel(self.closed_at)
            entries = [e for e in entries if e.t < end or e.source == "run"]
        entries.sort(key=lambda e: e.t)
        return entries

    def _subscribe(self) -> None:
        s = self.session

        @s.on("agent_state_changed")
        def _agent_state(ev: Any) -> None:
            self.note("agent", f"agent {ev.old_state} -> {ev.new_state}")

        @s.on("user_state_changed")
        def _user_state(ev: Any) -> None:
            self.note("user", f"user {ev.old_state} -> {ev.new_state}")

        @s.on("conversation_item_added")
        def _item(ev: Any) -> None:
            item = ev.item
            if getattr(item, "type", None) == "message":
                self.note("chat", f'{item.role}: "{item.text_content}"')

        @s.on("agent_false_interruption")
        def _false(ev: Any) -> None:
            self.note("agent", f"false interruption (resumed={ev.resumed})")


# ------------------------------------------------------------------------------------ scenarios


Expectation = str  # "ignore" (a backchannel), "interrupt" (take the floor), "turn" (a normal turn)


@dataclass(frozen=True)
class Scenario:
    """A scripted conversation and what should happen to each user utterance.

    Attributes:
        name: a short key ("a", "b", ...).
        title: one line for humans.
        user: the user's utterances.
        expect: per utterance, "ignore" (the agent plays on, nothing enters the conversation),
            "interrupt" (the agent stops and the user's words reach the LLM) or "turn" (the agent
            was not talking, or had just finished: the user's words reach the LLM).
        agent_says: what the agent says at t = 0 (None: the agent starts silent).
        duration: seconds to run.
        replies: the scripted LLM's replies (phrase -> reply).
    """

    name: str
    title: str
    user: tuple[UserSpeech, ...]
    expect: tuple[Expectation, ...]
    agent_says: str | None = None
    duration: float = 8.0
    replies: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if len(self.user) != len(self.expect):
            raise ValueError(f"scenario {self.name}: one expectation per utterance")


@dataclass
class UtteranceOutcome:
    """What happened to one user utterance.

    Attributes:
        speech: the utterance.
        expected: its expectation.
        stopped_at: wall-clock time the agent's audio stopped (cut, or paused and never resumed)
            while this utterance was the latest one; None if it played on.
        paused: the agent's audio was paused (and resumed) meanwhile.
        reached_llm: the utterance's words reached the LLM as (part of) a user turn.
        first_text_at: wall-clock time of the utterance's first transcript with words.
        decisive_text_at: wall-clock time of the transcript the gate interrupted on, if it did.
        gap: seconds of silence inside the agent's audio meanwhile (pauses and underruns).
        agent_was_speaking: the agent's audio was playing when the user's voice began and still
            when the first words arrived (or was stopped in between).
    """

    speech: UserSpeech
    expected: Expectation
    stopped_at: float | None = None
    paused: bool = False
    reached_llm: bool = False
    first_text_at: float | None = None
    decisive_text_at: float | None = None
    gap: float = 0.0
    agent_was_speaking: bool = True

    @property
    def false_interruption(self) -> bool:
        return self.expected == "ignore" and (self.stopped_at is not None or self.reached_llm)

    @property
    def missed(self) -> bool:
        if self.expected == "interrupt":
            # a sound with no words has nothing to reach the LLM: stopping is all it can ask for
            has_words = any(step.text.strip() for step in self.speech.transcripts)
            if not self.agent_was_speaking:
                # nothing left to interrupt (an earlier mistake already stopped the agent)
                return has_words and not self.reached_llm
            return self.stopped_at is None or (has_words and not self.reached_llm)
        if self.expected == "turn":
            return not self.reached_llm
        return False

    @property
    def ok(self) -> bool:
        return not self.false_interruption and not self.missed and self.gap == 0.0


@dataclass
class ScenarioRun:
    """A finished run of one scenario: the session (still inspectable) and the outcomes."""

    scenario: Scenario
    label: str
    offline: OfflineSession
    outcomes: list[UtteranceOutcome]
    decisions: list[Any] = field(default_factory=list)  # softack.gate.DecisionEvent
    backchannels: list[Any] = field(default_factory=list)  # softack.gate.BackchannelEvent
    interruptions: list[Any] = field(default_factory=list)  # softack.gate.InterruptionEvent

    @property
    def false_interruptions(self) -> int:
        return sum(o.false_interruption for o in self.outcomes)

    @property
    def missed_interruptions(self) -> int:
        return sum(o.missed for o in self.outcomes)

    @property
    def gaps(self) -> list[PlaybackGap]:
        """Gaps in the agent's audio during the run (one still open at the end is cut there)."""
        end = self.offline.clock.wall(self.scenario.duration)
        out = self.offline.audio_output
        gaps = list(out.gaps)
        for p in out.pauses:
            # a pause still unresolved when the run ended is silence until the end
            resolved = [t for t in (*out.resumes, *(s.cleared_at for s in out.stops)) if t >= p]
            if p < end and (not resolved or min(resolved) >= end):
                gaps.append(PlaybackGap(p, end, 0, "pause"))
        gaps = [
            PlaybackGap(g.start, min(g.end, end), g.segment, g.cause) for g in gaps if g.start < end
        ]
        return [g for g in gaps if g.duration > GAP_TOLERANCE]

    @property
    def gap_seconds(self) -> float:
        return sum(g.duration for g in self.gaps)


# Shorter silences are scheduling jitter of this process, not something a listener hears as a gap.
GAP_TOLERANCE = 0.02


async def run_scenario(
    scenario: Scenario,
    agent: Agent,
    *,
    turn_handling: Mapping[str, Any] | None = None,
    label: str = "",
    vad: vad.VAD | None = None,
    stt_options: Mapping[str, Any] | None = None,
    session_options: Mapping[str, Any] | None = None,
) -> ScenarioRun:
    """Run ``scenario`` through a real ``AgentSession`` with ``agent``, then judge each utterance.

    A ``softack.gate`` agent's decisions, backchannels and interruptions are recorded too.
    ``stt_options`` go to the ``ScriptedSTT`` (``faults``, ``mute``), ``session_options`` to the
    ``AgentSession`` (e.g. ``conn_options``).
    """
    offline = OfflineSession(
        user=scenario.user,
        turn_handling=turn_handling,
        vad=vad,
        llm=ScriptedLLM(scenario.replies),
        stt_options=stt_options,
        **dict(session_options or {}),
    )
    run = ScenarioRun(scenario=scenario, label=label, offline=offline, outcomes=[])
    if callable(getattr(agent, "on", None)) and hasattr(agent, "backchannel_filter"):
        _record_gate_events(agent, run)
    try:
        await offline.start(agent, say=scenario.agent_says)
        await offline.run_until(scenario.duration)
    finally:
        await offline.aclose()
    run.outcomes = _judge(scenario, offline, run)
    return run


def _record_gate_events(agent: Any, run: ScenarioRun) -> None:
    off = run.offline

    def on_decision(ev: Any) -> None:
        run.decisions.append(ev)
        d = ev.decision
        score = "" if d.score is None else f" score={d.score:.2f}"
        kw = f" keyword={d.keyword!r}" if d.keyword else ""
        ctx = "" if d.context is None else f' after "...{d.context.said[-24:]}" ({d.context.cue})'
        off.note(
            "softack",
            f'decide "{ev.transcript}" ({ev.agent_state}, {"final" if ev.final else "interim"}){ctx}: '
            f"{d.action.value}{' (provisional)' if d.provisional else ''} {d.intent.value} reason={d.reason.value}{score}{kw}"
            f" in {ev.duration * 1e3:.2f} ms",
            ev.created_at,
        )

    def on_backchannel(ev: Any) -> None:
        run.backchannels.append(ev)
        off.note("softack", f'backchannel "{ev.transcript}" kept out of the conversation', ev.created_at)

    def on_interruption(ev: Any) -> None:
        run.interruptions.append(ev)
        off.note("softack", f'interrupt the agent ({ev.reason}, {ev.intent.value}) on "{ev.transcript}"', ev.created_at)

    agent.on("decision", on_decision)
    agent.on("backchannel", on_backchannel)
    agent.on("interruption", on_interruption)


def _judge(scenario: Scenario, off: OfflineSession, run: ScenarioRun) -> list[UtteranceOutcome]:
    from ..normalize import normalize

    clock, out = off.clock, off.audio_output
    speeches = off.stt.speeches  # sorted by start, as the STT indexes them
    order = sorted(range(len(scenario.user)), key=lambda i: scenario.user[i].start)
    finals = [normalize(s.transcripts[-1].text) if s.transcripts else "" for s in speeches]
    # a user turn is the finals of one or more utterances joined: attribute each LLM call's user
    # text to the utterances it is made of, matching from its end
    reached: set[int] = set()
    for call in off.llm.calls:
        rest = normalize(call.user_text)
        for j in range(len(speeches) - 1, -1, -1):
            if not rest:
                break
            if clock.wall(speeches[j].start) > call.at or not finals[j]:
                continue
            if rest == finals[j] or rest.endswith(" " + finals[j]):
                reached.add(j)
                rest = rest[: -len(finals[j])].strip()
    outcomes: list[UtteranceOutcome] = []
    for rank, i in enumerate(order):
        speech = scenario.user[i]
        o = UtteranceOutcome(speech=speech, expected=scenario.expect[i])
        start = clock.wall(speech.start)
        end = clock.wall(speeches[rank + 1].start) if rank + 1 < len(speeches) else clock.wall(scenario.duration)
        for s in out.stops:
            # a stop made by closing the session at the end of the run is not an outcome
            if s.was_playing and start <= s.at < end and s.cleared_at < clock.wall(scenario.duration):
                o.stopped_at = s.at
                break
        resumed_pauses = [p for p, r in zip(out.pauses, out.resumes) if start <= p < end]
        o.paused = bool(resumed_pauses)
        o.gap = sum(g.duration for g in run.gaps if start <= g.start < end)
        texts = [e for e in off.stt.emitted if e.speech == rank and e.text.strip()]
        if texts:
            o.first_text_at = texts[0].at
        # whether there was anything to interrupt by the time the words could be known
        o.agent_was_speaking = out.audible_at(start) and (
            o.first_text_at is None or out.audible_at(o.first_text_at) or o.stopped_at is not None
        )
        o.reached_llm = rank in reached
        for ev in run.decisions:
            if ev.decision.interrupts and start <= ev.created_at < end:
                o.decisive_text_at = max((e.at for e in texts if e.at <= ev.created_at), default=None)
                break
        outcomes.append(o)
    return outcomes
