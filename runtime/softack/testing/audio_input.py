"""A microphone for the session: real-time 20 ms frames, silence unless audio was placed on its
timeline (``LiveAudioInput``), and ``read_wav`` for the audio placed there."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

import numpy as np
from livekit import rtc
from livekit.agents.voice.io import AudioInput


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
