"""A local stand-in for speech synthesis: a quiet tone as long as the text would take to say."""

from __future__ import annotations

from typing import Any

import numpy as np
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, tts, utils


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
