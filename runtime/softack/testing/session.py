"""A real ``AgentSession`` wired to the scripted parts (``OfflineSession``), and the timeline of what
happened in it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livekit.agents import stt, vad
from livekit.agents.voice import Agent, AgentSession

from .audio_input import LiveAudioInput
from .audio_output import RealtimeAudioOutput
from .clock import ScenarioClock
from .llm import ScriptedLLM
from .script import UserSpeech
from .stt import ScriptedSTT
from .tts import ToneTTS
from .vad import ScriptedVAD


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
            return  # before the clock starts there is no timeline to place it on
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
