"""The gate's logic and public surface, without a running AgentSession (milliseconds, not seconds).

``_Gate`` only needs from the session what LiveKit's ``AgentSession`` offers publicly:
``agent_state``, ``user_state``, ``options.aec_warmup_duration``, ``interrupt()`` and the
``agent_state_changed`` / ``user_state_changed`` events. A stand-in with those drives it here;
the scenario tests drive the real session.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession, stt
from livekit.agents.voice import ModelSettings
from livekit.agents.voice.io import AudioOutput, AudioOutputCapabilities

from softack import Action
from softack.gate import SoftAckAgent, SoftAckMixin, _Gate, interruption_options, turn_handling

T = stt.SpeechEventType


def ev(kind: stt.SpeechEventType, text: str = "") -> stt.SpeechEvent:
    alts = [stt.SpeechData(language="en", text=text)] if kind in (T.INTERIM_TRANSCRIPT, T.FINAL_TRANSCRIPT) else []
    return stt.SpeechEvent(type=kind, alternatives=alts)


class FakeSession(rtc.EventEmitter):
    def __init__(self, agent_state: str = "speaking") -> None:
        super().__init__()
        self.agent_state = agent_state
        self.user_state = "listening"
        self.options = SimpleNamespace(aec_warmup_duration=None, interruption=interruption_options())
        self.interrupts = 0
        self.current_speech = None
        self.current_agent = None

    def interrupt(self, *, force: bool = False) -> asyncio.Future[None]:
        self.interrupts += 1
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def set_agent(self, state: str) -> None:
        old, self.agent_state = self.agent_state, state
        self.emit("agent_state_changed", SimpleNamespace(old_state=old, new_state=state))

    def set_user(self, state: str) -> None:
        old, self.user_state = self.user_state, state
        self.emit("user_state_changed", SimpleNamespace(old_state=old, new_state=state))


class Harness:
    """A gate reading from a queue; what it lets through is collected in ``seen``."""

    def __init__(self, make_filter, session: FakeSession, **options) -> None:
        self.session = session
        self.source: asyncio.Queue = asyncio.Queue()
        self.seen: list[stt.SpeechEvent] = []
        self.events: list[tuple[str, object]] = []
        opts = {"no_transcript_timeout": 2.0, "answer_window": 1.0, **options}
        self.gate = _Gate(
            session=session,  # type: ignore[arg-type]
            backchannel_filter=make_filter(),
            emit=lambda name, payload: self.events.append((name, payload)),
            **opts,
        )
        self.task = asyncio.create_task(self._consume())

    @classmethod
    async def start(cls, make_filter, session: FakeSession, **options) -> Harness:
        h = cls(make_filter, session, **options)
        await h.send()  # let the gate subscribe to the session
        return h

    async def _source(self):
        while (item := await self.source.get()) is not None:
            yield item

    async def _consume(self) -> None:
        async for item in self.gate.run(self._source()):
            self.seen.append(item)

    async def send(self, *events: stt.SpeechEvent) -> None:
        for e in events:
            self.source.put_nowait(e)
        for _ in range(5):
            await asyncio.sleep(0)

    def texts(self) -> list[str]:
        return [e.alternatives[0].text for e in self.seen if e.alternatives]

    def named(self, name: str) -> list:
        return [p for n, p in self.events if n == name]

    async def close(self) -> None:
        self.source.put_nowait(None)
        await asyncio.wait_for(self.task, 1.0)


# ---------------------------------------------------------------------------- session options


def test_interruption_options_hand_the_decision_to_the_gate():
    opts = interruption_options()
    assert opts["mode"] == "vad"
    assert opts["min_words"] == 1
    assert opts["resume_false_interruption"] is False
    assert opts["false_interruption_timeout"] is None
    assert interruption_options(min_duration=0.3)["min_duration"] == 0.3


def test_min_words_zero_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="softack"):
        interruption_options(min_words=0)
    assert "min_words" in caplog.text


async def test_turn_handling_is_accepted_by_agent_session():
    session = AgentSession(turn_handling=turn_handling(turn_detection="vad", endpointing={"min_delay": 0.4}))
    interruption = session.options.interruption
    assert interruption["mode"] == "vad" and interruption["min_words"] == 1
    assert interruption["resume_false_interruption"] is False
    assert session.options.endpointing["min_delay"] == 0.4


# ---------------------------------------------------------------------------------- the mixin


async def test_mixin_wraps_an_existing_agent_subclass(make_filter):
    """``class Mine(SoftAckMixin, TheirAgent)``: the gate wraps their own stt_node."""
    fake = FakeSession()
    fake.user_state = "speaking"  # one utterance: "yeah" ... "no"

    class TheirAgent(Agent):
        def stt_node(self, audio, model_settings):
            async def gen():
                yield ev(T.INTERIM_TRANSCRIPT, "yeah")
                yield ev(T.FINAL_TRANSCRIPT, "yeah")
                yield ev(T.INTERIM_TRANSCRIPT, "no")

            return gen()

    class Mine(SoftAckMixin, TheirAgent):
        session = property(lambda self: fake)  # a running agent gets this from its AgentSession

    agent = Mine(instructions="x", backchannel_filter=make_filter())
    decisions = []
    agent.on("decision", decisions.append)

    async def no_audio():
        if False:
            yield

    seen = [e async for e in agent.stt_node(no_audio(), ModelSettings())]
    # "yeah" was held while the user kept talking; "no" in the same utterance makes it an
    # interruption: the whole utterance goes through, in order
    assert [e.alternatives[0].text for e in seen] == ["yeah", "yeah", "no"]
    assert fake.interrupts == 1
    assert [d.decision.action for d in decisions] == [Action.IGNORE, Action.IGNORE, Action.INTERRUPT]
    assert isinstance(SoftAckAgent(instructions="x", backchannel_filter=make_filter()), Agent)


# ------------------------------------------------------------------------------- gate logic


async def test_backchannel_is_held_then_reported(make_filter):
    h = await Harness.start(make_filter, FakeSession(), answer_window=0.05)
    await h.send(ev(T.START_OF_SPEECH), ev(T.INTERIM_TRANSCRIPT, "uh"), ev(T.FINAL_TRANSCRIPT, "uh-huh"), ev(T.END_OF_SPEECH))
    assert h.texts() == []
    assert [e.type for e in h.seen] == [T.START_OF_SPEECH, T.END_OF_SPEECH]  # no words: passed at once
    await asyncio.sleep(0.1)
    (bc,) = h.named("backchannel")
    assert bc.transcript == "uh-huh" and bc.decision.action is Action.IGNORE
    assert h.session.interrupts == 0
    await h.close()


async def test_words_after_a_final_join_the_utterance(make_filter):
    """Finals accumulate like the framework's transcript: "yeah okay" + "but" is "yeah okay but"."""
    h = await Harness.start(make_filter, FakeSession())
    h.session.set_user("speaking")
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah okay"), ev(T.INTERIM_TRANSCRIPT, "but"))
    assert h.texts() == ["yeah okay", "but"]
    assert h.session.interrupts == 1
    assert h.named("interruption")[0].transcript == "yeah okay but"
    await h.close()


async def test_each_utterance_is_judged_alone(make_filter):
    h = await Harness.start(make_filter, FakeSession(), answer_window=0.0)
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah"), ev(T.END_OF_SPEECH))
    await h.send(ev(T.FINAL_TRANSCRIPT, "okay"), ev(T.END_OF_SPEECH))
    assert [d.transcript for d in h.named("decision")] == ["yeah", "okay"]
    assert [b.transcript for b in h.named("backchannel")] == ["yeah", "okay"]
    await h.close()


async def test_agent_silent_passes_everything(make_filter):
    h = await Harness.start(make_filter, FakeSession(agent_state="listening"))
    await h.send(ev(T.INTERIM_TRANSCRIPT, "yeah"), ev(T.FINAL_TRANSCRIPT, "yeah"))
    assert h.texts() == ["yeah", "yeah"]
    assert h.session.interrupts == 0 and h.named("backchannel") == []
    await h.close()


async def test_open_utterance_released_when_the_agent_stops(make_filter):
    h = await Harness.start(make_filter, FakeSession())
    h.session.set_user("speaking")
    await h.send(ev(T.INTERIM_TRANSCRIPT, "yeah"))
    assert h.texts() == []
    h.session.set_agent("listening")
    await h.send()
    assert h.texts() == ["yeah"]
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah"))
    assert h.texts() == ["yeah", "yeah"]
    assert h.session.interrupts == 0
    await h.close()


async def test_backchannel_just_before_the_agent_stops_is_a_turn(make_filter):
    h = await Harness.start(make_filter, FakeSession(), answer_window=1.0)
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah"), ev(T.END_OF_SPEECH))
    assert h.texts() == []
    h.session.set_agent("listening")
    await h.send()
    assert h.texts() == ["yeah"] and h.named("backchannel") == []
    await h.close()


async def test_backchannel_long_before_the_agent_stops_stays_out(make_filter):
    h = await Harness.start(make_filter, FakeSession(), answer_window=0.05)
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah"), ev(T.END_OF_SPEECH))
    await asyncio.sleep(0.1)
    h.session.set_agent("listening")
    await h.send()
    assert h.texts() == [] and len(h.named("backchannel")) == 1
    await h.close()


async def test_interrupting_confirms_earlier_backchannels(make_filter):
    """A "yeah" before a "stop" was feedback: it is reported, not prepended to the turn."""
    h = await Harness.start(make_filter, FakeSession(), answer_window=5.0)
    await h.send(ev(T.FINAL_TRANSCRIPT, "yeah"), ev(T.END_OF_SPEECH))
    await h.send(ev(T.INTERIM_TRANSCRIPT, "stop"))
    assert h.texts() == ["stop"]
    assert [b.transcript for b in h.named("backchannel")] == ["yeah"]
    await h.close()


async def test_no_transcript_timeout(make_filter):
    h = await Harness.start(make_filter, FakeSession(), no_transcript_timeout=0.05)
    h.session.set_user("speaking")
    h.session.set_user("listening")  # a cough: over before the limit
    await asyncio.sleep(0.1)
    assert h.session.interrupts == 0
    h.session.set_user("speaking")  # speech the STT does not transcribe
    await asyncio.sleep(0.1)
    assert h.session.interrupts == 1
    assert h.named("interruption")[0].reason == "no_transcript"
    await h.close()


async def test_text_keeps_the_no_transcript_timer_quiet(make_filter):
    h = await Harness.start(make_filter, FakeSession(), no_transcript_timeout=0.08)
    h.session.set_user("speaking")
    for _ in range(4):
        await asyncio.sleep(0.04)
        await h.send(ev(T.INTERIM_TRANSCRIPT, "yeah"))
    assert h.session.interrupts == 0
    await h.close()


async def test_empty_transcripts_are_not_judged(make_filter):
    h = await Harness.start(make_filter, FakeSession())
    await h.send(ev(T.INTERIM_TRANSCRIPT, ""), ev(T.FINAL_TRANSCRIPT, ""))
    assert h.named("decision") == [] and h.session.interrupts == 0
    assert len(h.seen) == 2  # carry no words: let through
    await h.close()


async def test_echo_cancellation_warm_up_is_respected(make_filter):
    """While LiveKit's AEC warm-up runs, barge-in is off: the gate releases the words but leaves
    stopping the agent to the user turn the framework commits."""
    session = FakeSession(agent_state="initializing")
    session.options.aec_warmup_duration = 3.0
    h = await Harness.start(make_filter, session)
    session.set_agent("speaking")
    await h.send(ev(T.INTERIM_TRANSCRIPT, "stop"))
    assert h.texts() == ["stop"] and session.interrupts == 0
    await h.close()
    # a gate that starts mid-session (after a handoff) finds the warm-up over
    late = FakeSession(agent_state="listening")
    late.options.aec_warmup_duration = 3.0
    h = await Harness.start(make_filter, late)
    late.set_agent("speaking")
    await h.send(ev(T.INTERIM_TRANSCRIPT, "stop"))
    assert late.interrupts == 1
    await h.close()


async def test_stt_errors_propagate(make_filter):
    """An STT failure reaches the framework (which recreates the stream), not swallowed."""
    session = FakeSession()
    gate = _Gate(session=session, backchannel_filter=make_filter(), no_transcript_timeout=None, answer_window=0, emit=lambda *a: None)

    async def failing():
        yield ev(T.INTERIM_TRANSCRIPT, "no")
        raise RuntimeError("stt down")

    seen = []
    with pytest.raises(RuntimeError, match="stt down"):
        async for e in gate.run(failing()):
            seen.append(e)
    assert len(seen) == 1
    assert not session._events.get("agent_state_changed")  # listeners removed


async def test_options_that_defeat_the_gate_are_reported(make_filter, caplog):
    session = FakeSession()
    session.options.interruption = {"mode": "adaptive", "min_words": 0, "resume_false_interruption": True, "false_interruption_timeout": 2.0}
    with caplog.at_level(logging.WARNING, logger="softack"):
        h = await Harness.start(make_filter, session)
    assert "adaptive" in caplog.text and "min_words=0" in caplog.text and "resume_false_interruption" in caplog.text
    await h.close()


async def test_thinking_counts_as_talking(make_filter):
    """While the agent prepares its reply (thinking), a backchannel is held like while it speaks."""
    h = await Harness.start(make_filter, FakeSession(agent_state="thinking"), answer_window=0.0)
    await h.send(ev(T.FINAL_TRANSCRIPT, "mhm"), ev(T.END_OF_SPEECH))
    assert h.texts() == [] and [b.transcript for b in h.named("backchannel")] == ["mhm"]
    await h.send(ev(T.INTERIM_TRANSCRIPT, "wait"))
    assert h.texts() == ["wait"] and h.session.interrupts == 1
    await h.close()


def test_agent_without_a_loadable_model_runs_on_the_rules(monkeypatch, tmp_path, caplog):
    """The gate's default filter: a missing model is logged and the call goes on with the rules."""
    import softack.decision as decision_module
    import softack.gate as gate_module
    from softack.gate import SoftAckAgent

    monkeypatch.setattr(decision_module, "_default_filter", None)
    monkeypatch.setattr(gate_module, "_rules_only_filter", None)
    monkeypatch.setenv("SOFTACK_MODEL", str(tmp_path / "missing.onnx"))
    with caplog.at_level("ERROR", logger="softack"):
        agent = SoftAckAgent(instructions="test")
    assert agent.backchannel_filter.classifier is None
    assert any("missing.onnx" in r.getMessage() for r in caplog.records)
    assert agent.backchannel_filter.decide("yeah", "speaking").action.value == "ignore"
    assert agent.backchannel_filter.decide("tell me more", "speaking").action.value == "interrupt"


async def test_decision_events_count_model_failures(classifier):
    """A model that starts failing mid-call: every such utterance interrupts (never lost), and the
    decision events say how many times it has happened, so a monitor can tell the model is down."""
    from softack import BackchannelFilter, Reason, SoftAckConfig

    class FailsLater:
        threshold = context_threshold = classifier.threshold
        intents = classifier.intents
        broken = False

        def predict(self, text, context=None):
            if self.broken:
                raise RuntimeError("session lost")
            return classifier.predict(text, context)

    model = FailsLater()
    h = await Harness.start(lambda: BackchannelFilter(SoftAckConfig(), model), FakeSession(), answer_window=0.0)
    await h.send(ev(T.FINAL_TRANSCRIPT, "how interesting"), ev(T.END_OF_SPEECH))
    before = h.session.interrupts  # whatever the working model made of it
    model.broken = True
    await h.send(ev(T.FINAL_TRANSCRIPT, "how interesting"), ev(T.END_OF_SPEECH))
    await h.send(ev(T.FINAL_TRANSCRIPT, "oh how lovely"), ev(T.END_OF_SPEECH))
    counts = [d.model_failures for d in h.named("decision")]
    assert counts == [0, 1, 2]
    assert [d.decision.reason for d in h.named("decision")][1:] == [Reason.FALLBACK, Reason.FALLBACK]
    assert h.session.interrupts == before + 2
    await h.close()


# ------------------------------------------------------------ the reply's first audio (issue 10, 9)


class _Sink(AudioOutput):
    def __init__(self) -> None:
        super().__init__(label="sink", capabilities=AudioOutputCapabilities(pause=False))
        self.frames: list[float] = []

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self.frames.append(asyncio.get_running_loop().time())

    def flush(self) -> None:
        super().flush()

    def clear_buffer(self) -> None:
        pass


class _Judge:
    def __init__(self, limit: float) -> None:
        self.pending, self.interrupted, self.limit = True, False, limit

    def awaiting_judgement(self) -> bool:
        return self.pending

    def reply_interrupted(self) -> bool:
        return self.interrupted

    def judgement_deadline(self, now: float) -> float:
        return now + self.limit


async def test_reply_hold_releases_on_judgement_or_the_limit_and_holds_only_the_first_frame():
    """The first frame waits while speech is pending; a judgement releases it, the limit does at
    the latest, and once a frame is out the segment flows; an interrupted reply's frame waits for
    the cancellation, never released by the limit."""
    from softack.gate import _ReplyHold

    frame = rtc.AudioFrame(data=b"\0\0" * 160, sample_rate=16000, num_channels=1, samples_per_channel=160)
    sink = _Sink()
    hold = _ReplyHold(sink)
    judge = _Judge(limit=5.0)
    hold.bind(judge)  # type: ignore[arg-type]
    capture = asyncio.create_task(hold.capture_frame(frame))
    await asyncio.sleep(0.05)
    assert not capture.done() and sink.frames == []
    judge.pending = False
    hold.wake()  # a nod
    await asyncio.wait_for(capture, 1.0)
    judge.pending = True
    await asyncio.wait_for(hold.capture_frame(frame), 0.1)  # the segment has begun: not held
    assert len(sink.frames) == 2 and [o for *_, o in hold.holds] == ["judged"]
    hold.flush()
    judge.limit = 0.05  # the next segment: nothing decides, the limit releases it
    await asyncio.wait_for(hold.capture_frame(frame), 1.0)
    assert [o for *_, o in hold.holds] == ["judged", "timeout"]
    hold.flush()
    judge.interrupted = True  # the gate interrupted: held past the limit until cancelled
    capture = asyncio.create_task(hold.capture_frame(frame))
    await asyncio.sleep(0.15)
    assert not capture.done()
    capture.cancel()
    with pytest.raises(asyncio.CancelledError):
        await capture
    assert len(sink.frames) == 3 and [o for *_, o in hold.holds][-1] == "dropped"
