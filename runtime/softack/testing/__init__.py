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

- ``Scenario`` and ``run_scenario``: a scripted conversation run through the session, each user
  utterance judged (did the agent stop, play on, pass the words to the LLM).

One fake per module: ``clock``, ``audio_input``, ``audio_output``, ``script`` (``UserSpeech``,
``TranscriptStep``), ``vad``, ``stt``, ``llm``, ``tts``, ``session``, ``scenario``. The demo, the
tests and the benchmark all drive the session through this package.
"""

from .audio_input import LiveAudioInput, read_wav
from .audio_output import HeardFrame, PlaybackGap, PlaybackStop, RealtimeAudioOutput
from .clock import ScenarioClock
from .llm import LLMCall, ScriptedLLM
from .scenario import GAP_TOLERANCE, Expectation, Scenario, ScenarioRun, UtteranceOutcome, run_scenario
from .script import TranscriptStep, UserSpeech
from .session import OfflineSession, TimelineEntry
from .stt import EmittedSpeechEvent, ScriptedSTT, STTFault
from .tts import ToneTTS
from .vad import ScriptedVAD

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
    "Expectation",
    "Scenario",
    "ScenarioRun",
    "UtteranceOutcome",
    "GAP_TOLERANCE",
    "run_scenario",
]
