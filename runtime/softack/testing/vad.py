"""A VAD run on the script instead of audio: Silero's speech/silence state machine, with its timing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from livekit.agents import vad

from .clock import ScenarioClock
from .script import UserSpeech


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
