"""A loudspeaker for the session (``RealtimeAudioOutput``) and what it records: each frame as it
would be heard, gaps inside the agent's audio, and the moments playback was cut."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
from livekit import rtc
from livekit.agents.voice.io import AudioOutput, AudioOutputCapabilities


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
