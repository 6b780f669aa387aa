"""The softack agent worker: a LiveKit voice agent with the grace-period gate on.

    python runtime/worker.py console   # talk to it in this terminal (needs a microphone)
    python runtime/worker.py dev       # serve rooms on LIVEKIT_URL, reloading on code changes
    python runtime/worker.py start     # serve rooms in production

Silero VAD, Deepgram STT, an LLM and a TTS chosen by environment variables, and the gate:
backchannels ("yeah", "uh-huh") while the agent talks are logged and kept out of the
conversation; interruptions stop the agent at once. Settings come from the environment, then
from a ``.env`` file (searched upwards from the working directory):

    DEEPGRAM_API_KEY        Deepgram STT (and the default TTS)
    LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET
                            the LiveKit server (dev, start, connect); the key and secret also
                            pay for LiveKit Inference models ("livekit:..." below)
    OPENAI_API_KEY          only for "openai:..." models (needs livekit-plugins-openai)
    SOFTACK_STT_MODEL       Deepgram model, default "nova-3"
    SOFTACK_LLM             "livekit:<model>" (LiveKit Inference, default
                            "livekit:openai/gpt-4.1-mini") or "openai:<model>"
    SOFTACK_TTS             "deepgram:<model>" (default "deepgram:aura-2-andromeda-en"),
                            "livekit:<model>" (LiveKit Inference, e.g. "livekit:cartesia/sonic-2")
                            or "openai:<voice>"
    SOFTACK_TURN_DETECTION  "vad" (default), "stt", or "model" (LiveKit's turn detector)
    SOFTACK_INSTRUCTIONS    the agent's instructions
    LIVEKIT_SOFT_ACKS, LIVEKIT_INTERRUPT_KEYWORDS   the gate's lists (see softack.config)

A variable a chosen setting needs but that is not set stops the worker before it starts, with a
message that names it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from dotenv import find_dotenv, load_dotenv

logger = logging.getLogger("softack")

DEFAULT_STT_MODEL = "nova-3"
DEFAULT_LLM = "livekit:openai/gpt-4.1-mini"
DEFAULT_TTS = "deepgram:aura-2-andromeda-en"
DEFAULT_INSTRUCTIONS = (
    "You are a friendly, concise voice assistant. Speak in plain sentences without markdown. "
    "If the user interrupts you, stop and answer what they said."
)
SERVER_MODES = frozenset({"dev", "start", "connect"})
LIVEKIT_SERVER_KEYS = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
LIVEKIT_INFERENCE_KEYS = ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


@dataclass(frozen=True)
class Settings:
    """What the worker runs, read from the environment."""

    stt_model: str
    llm: str
    tts: str
    turn_detection: str
    instructions: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            stt_model=env.get("SOFTACK_STT_MODEL") or DEFAULT_STT_MODEL,
            llm=env.get("SOFTACK_LLM") or DEFAULT_LLM,
            tts=env.get("SOFTACK_TTS") or DEFAULT_TTS,
            turn_detection=env.get("SOFTACK_TURN_DETECTION") or "vad",
            instructions=env.get("SOFTACK_INSTRUCTIONS") or DEFAULT_INSTRUCTIONS,
        )


class ConfigError(ValueError):
    """A setting the worker cannot use; the message says which and why."""


def _split(spec: str, variable: str, providers: tuple[str, ...]) -> tuple[str, str]:
    provider, sep, model = spec.partition(":")
    if not sep or provider not in providers or not model:
        raise ConfigError(
            f"{variable}={spec!r}: expected one of {', '.join(p + ':<model>' for p in providers)}"
        )
    return provider, model


def required_keys(mode: str, settings: Settings) -> dict[str, str]:
    """The variables ``mode`` needs with these settings, each with what it is for."""
    need: dict[str, str] = {"DEEPGRAM_API_KEY": "Deepgram STT"}
    if mode in SERVER_MODES:
        for key in LIVEKIT_SERVER_KEYS:
            need.setdefault(key, f"the LiveKit server ({mode} mode)")
    llm_provider, _ = _split(settings.llm, "SOFTACK_LLM", ("livekit", "openai"))
    tts_provider, _ = _split(settings.tts, "SOFTACK_TTS", ("deepgram", "livekit", "openai"))
    for provider, what in ((llm_provider, f"the LLM {settings.llm}"), (tts_provider, f"the TTS {settings.tts}")):
        if provider == "livekit":
            for key in LIVEKIT_INFERENCE_KEYS:
                need.setdefault(key, f"{what} (LiveKit Inference)")
        elif provider == "openai":
            need.setdefault("OPENAI_API_KEY", what)
        elif provider == "deepgram":
            need.setdefault("DEEPGRAM_API_KEY", what)
    if settings.turn_detection not in ("vad", "stt", "model"):
        raise ConfigError(f"SOFTACK_TURN_DETECTION={settings.turn_detection!r}: expected vad, stt or model")
    if settings.turn_detection == "model":
        for key in LIVEKIT_INFERENCE_KEYS:
            need.setdefault(key, "LiveKit's turn detector")
    return need


def missing_keys(mode: str, settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The required variables that are unset or empty in ``env``."""
    env = os.environ if env is None else env
    return {k: why for k, why in required_keys(mode, settings).items() if not env.get(k)}


def command_of(argv: list[str]) -> str | None:
    """The CLI subcommand in ``argv`` (``console``, ``dev``, ``start``, ...), if any."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


# ----------------------------------------------------------------------------------- the agent


def _make_llm(spec: str):  # type: ignore[no-untyped-def]
    provider, model = _split(spec, "SOFTACK_LLM", ("livekit", "openai"))
    if provider == "livekit":
        from livekit.agents import inference

        return inference.LLM(model=model)
    try:
        from livekit.plugins import openai
    except ImportError as e:
        raise ConfigError("SOFTACK_LLM=openai:... needs `pip install livekit-plugins-openai~=1.8.9`") from e
    return openai.LLM(model=model)


def _make_tts(spec: str):  # type: ignore[no-untyped-def]
    provider, model = _split(spec, "SOFTACK_TTS", ("deepgram", "livekit", "openai"))
    if provider == "deepgram":
        from livekit.plugins import deepgram

        return deepgram.TTS(model=model)
    if provider == "livekit":
        from livekit.agents import inference

        return inference.TTS(model=model)
    try:
        from livekit.plugins import openai
    except ImportError as e:
        raise ConfigError("SOFTACK_TTS=openai:... needs `pip install livekit-plugins-openai~=1.8.9`") from e
    return openai.TTS(voice=model)


def build_server():  # type: ignore[no-untyped-def]
    """The ``AgentServer`` with the softack agent as its room session."""
    from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, inference
    from livekit.plugins import deepgram, silero

    from softack import BackchannelFilter
    from softack.gate import BackchannelEvent, HeardTranscript, SoftAckAgent, turn_handling

    def prewarm(proc: JobProcess) -> None:
        proc.userdata["vad"] = silero.VAD.load()
        # the model and the lists (LIVEKIT_SOFT_ACKS, LIVEKIT_INTERRUPT_KEYWORDS), once per process
        proc.userdata["backchannel_filter"] = BackchannelFilter()

    server = AgentServer(setup_fnc=prewarm)

    @server.rtc_session()
    async def entrypoint(ctx: JobContext) -> None:
        settings = Settings.from_env()
        turn_detection = inference.TurnDetector() if settings.turn_detection == "model" else settings.turn_detection
        session = AgentSession(
            vad=ctx.proc.userdata["vad"],
            stt=deepgram.STT(model=settings.stt_model),
            llm=_make_llm(settings.llm),
            tts=_make_tts(settings.tts),
            turn_handling=turn_handling(turn_detection=turn_detection),
        )
        agent = SoftAckAgent(
            instructions=settings.instructions,
            backchannel_filter=ctx.proc.userdata["backchannel_filter"],
        )

        @agent.on("backchannel")
        def _on_backchannel(ev: BackchannelEvent) -> None:
            logger.info("backchannel %r (%s)", ev.transcript, ev.decision.reason.value)

        # the transcript paced with the audio ends in HeardTranscript: the gate reads what the
        # caller had heard of the agent's line when they began to speak
        from livekit.agents import room_io

        await session.start(
            agent,
            room=ctx.room,
            room_options=room_io.RoomOptions(text_output=room_io.TextOutputOptions(next_in_chain=HeardTranscript())),
        )
        session.generate_reply(instructions="Greet the user in one short sentence.")

    return server


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    load_dotenv(find_dotenv(usecwd=True), override=False)
    mode = command_of(argv)
    if mode in ("console", *SERVER_MODES):
        try:
            settings = Settings.from_env()
            missing = missing_keys(mode, settings)
        except ConfigError as e:
            print(f"softack worker: {e}", file=sys.stderr)
            return 2
        if missing:
            for key, why in missing.items():
                print(f"softack worker: {key} is not set (needed for {why}); set it in the environment or in .env", file=sys.stderr)
            return 2
        # Fail fast on a broken model here, not in the first call's job process.
        from softack import ModelLoadError, OnnxClassifier

        try:
            OnnxClassifier()
        except ModelLoadError as e:
            print(f"softack worker: {e}", file=sys.stderr)
            return 2
    from livekit.agents import cli

    sys.argv = [sys.argv[0], *argv]
    cli.run_app(build_server())
    return 0


if __name__ == "__main__":
    sys.exit(main())
