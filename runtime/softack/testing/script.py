"""What the user does, as a script: utterances (``UserSpeech``) and the transcripts the STT sends
about them (``TranscriptStep``). The scripted VAD and STT both read it."""

from __future__ import annotations

from dataclasses import dataclass


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
