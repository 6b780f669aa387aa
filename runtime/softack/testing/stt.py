"""A streaming STT that sends scripted transcripts and speech events at scripted times, and fails
when the script says so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    NotGivenOr,
    stt,
)

from .clock import ScenarioClock
from .script import UserSpeech


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
