"""Issue 10: the gate right in every LiveKit configuration, each defect through a real ``AgentSession``.

Each test failed before its fix. Where a test runs several sessions they run concurrently (each
costs seconds of real time). Timings are read off the harness's loudspeaker timeline.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from livekit.agents import APIConnectOptions, llm
from livekit.agents.voice.agent_session import SessionConnectOptions

from softack.demo import INSTRUCTIONS, MONOLOGUE
from softack.gate import SoftAckAgent, turn_handling
from softack.testing import OfflineSession, Scenario, STTFault, TranscriptStep, UserSpeech, run_scenario

from .test_gate_faults import REPLY, cuts, run_gate, user_turns

T = TranscriptStep

# real-time sessions: sample the loop's time off the CPU, on a collected heap (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("loop_lag")


# ------------------------------------------------------------- 1. a command heard only as interims


async def test_1_interim_only_command_becomes_the_turn(make_filter):
    """"stop" arrives as interims and no final ever comes; the STT ends the utterance (END_OF_SPEECH)
    or nothing does. Either way the agent stops and "stop" is the user's turn, answered."""

    def shape(name: str, *, stt_end: bool) -> Scenario:
        return Scenario(
            name=name,
            title="stop, interims only",
            agent_says=MONOLOGUE,
            user=(
                UserSpeech(
                    start=1.5,
                    end=1.9,
                    transcripts=(T(1.8, "stop"), T(2.0, "stop")),
                    stt_speech_events=stt_end,
                    label="stop",
                ),
            ),
            expect=("interrupt",),
            duration=5.5,
            replies={"stop": REPLY},
        )

    runs = await asyncio.gather(
        run_gate(shape("eos", stt_end=True), make_filter), run_gate(shape("nothing", stt_end=False), make_filter)
    )
    for run in runs:
        where = run.scenario.name
        assert [i.transcript for i in run.interruptions] == ["stop"], where
        assert cuts(run), where
        assert user_turns(run) == ["stop"], where
        assert ("assistant", REPLY) in run.offline.chat_messages(), where


# ------------------------------------------- 2. the first word of a backchannel does not stop the agent


async def test_2_first_word_of_a_backchannel_waits(make_filter):
    """"of" -> "of course", "all" -> "all right", "for" -> "for sure" while the agent speaks: no
    stop, no gap (the core waits on an interim that only begins a common backchannel). "could you"
    -> "could you repeat that" still stops the agent, at the latest on the interim after "could"."""
    s = Scenario(
        name="prefix",
        title="of course; all right; for sure; could you repeat that",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.say("of course", at=0.8),
            UserSpeech.say("all right", at=1.9),
            UserSpeech.say("for sure", at=3.0),
            UserSpeech.say("could you repeat that", at=4.1),
        ),
        expect=("ignore", "ignore", "ignore", "interrupt"),
        duration=7.0,
        replies={"repeat": REPLY},
    )
    run = await run_gate(s, make_filter)
    out, clock = run.offline.audio_output, run.offline.clock
    assert [b.transcript for b in run.backchannels] == ["of course", "all right", "for sure"]
    assert run.gaps == [] and [c for c in cuts(run) if c.at < clock.wall(4.1)] == []
    interims = [e for e in run.offline.stt.emitted if e.speech == 3 and e.text]
    stop = out.stop_after(clock.wall(4.1))
    assert stop is not None
    # "could" may wait; "could you" (one more interim) may not
    assert stop.at <= interims[1].at + 0.05, [(e.text, clock.rel(e.at)) for e in interims]
    cost = max(0.0, stop.at - interims[0].at)
    print(f"\nstop {1e3 * cost:.0f} ms after the first interim ('{interims[0].text}'); "
          f"the next interim came {1e3 * (interims[1].at - interims[0].at):.0f} ms after it")


# ---------------------------------------------------- 3. no-transcript fallback across an STT restart


async def test_3_stt_restart_mid_utterance_keeps_the_no_transcript_limit(make_filter):
    """The STT fails for good 0.3 s into 3 s of user speech; LiveKit rebuilds ``stt_node`` (a new
    gate). No transcript ever comes: the agent is still stopped after ``no_transcript_timeout``
    of the user's voice, while they speak, not left talking over them to the end."""
    s = Scenario(
        name="restart",
        title="3 s of speech, the STT fails 0.3 s in",
        agent_says=MONOLOGUE,
        user=(UserSpeech.sound(at=1.0, duration=3.0),),
        expect=("interrupt",),
        duration=5.0,
    )
    run = await run_gate(s, make_filter, stt_options={"faults": [STTFault(at=1.3, retryable=False)]})
    out, clock = run.offline.audio_output, run.offline.clock
    assert run.offline.stt.streams >= 2, "the session should have rebuilt the STT stream"
    assert [i.reason for i in run.interruptions] == ["no_transcript"]
    onset = next(t for t, kind in run.offline.scripted_vad.events if kind == "start_of_speech")
    stop = out.stop_after(onset)
    assert stop is not None and stop.at < clock.wall(4.0), "the agent talked over the user"
    assert stop.at - onset >= 1.9


# ------------------------------------------------------ 5. the answer window from the voice's real end


async def test_5_answer_window_counts_from_the_real_end_of_speech(make_filter):
    """A "yeah" that ended 1.45 s before the agent finished its line on its own is feedback, not an
    answer: with ``answer_window=1.0`` it stays a backchannel. Its final comes while VAD still
    counts the user as speaking, so the utterance ends at VAD's END_OF_SPEECH, 0.55 s after the
    voice did: measured from there the window wrongly took it as the user's turn."""
    line = "Your order has shipped and the courier will call you tomorrow morning."
    # the tone plays 0.06 s per character from about 0.02 s
    line_end = 0.02 + 0.06 * len(line)
    yeah = UserSpeech.say("yeah", at=line_end - 1.45 - 0.35, duration=0.35, stt_delay=0.25)
    s = Scenario(
        name="late-window",
        title="yeah 1.45 s before the agent's last word",
        agent_says=line,
        user=(UserSpeech(start=yeah.start, end=yeah.end, transcripts=yeah.transcripts, stt_speech_events=False, label="yeah"),),
        expect=("ignore",),
        duration=line_end + 1.5,
    )
    run = await run_gate(s, make_filter, answer_window=1.0)
    out, clock = run.offline.audio_output, run.offline.clock
    end = out.audio_end()
    assert end is not None and 1.35 < end - clock.wall(s.user[0].end) < 1.6, "the scenario's timing is off"
    assert [b.transcript for b in run.backchannels] == ["yeah"]
    assert run.offline.llm.calls == [] and user_turns(run) == []
    assert [b.transcript for b in run.backchannels] == ["yeah"]
    assert run.offline.llm.calls == [] and user_turns(run) == []
    (b,) = run.backchannels
    assert abs(b.ended_at - clock.wall(s.user[0].end)) < 0.1, "ended_at should be the voice's end"


# --------------------------------------------------------------------------------------- 6. handoff


async def test_6_backchannel_held_at_a_handoff_is_reported(make_filter):
    """"okay" is held (within its answer window) when the agent hands off to another agent: it is
    reported as a backchannel by the agent it was said to, and never passed to the old pipeline
    as a transcript without a turn. (It is not made the new agent's turn: it was feedback on the
    old agent's words, and the new agent has said nothing to answer.)"""
    bf = make_filter()
    first = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=bf)
    second = SoftAckAgent(instructions="second agent", backchannel_filter=bf)
    off = OfflineSession(user=[UserSpeech.say("okay", at=1.0)], turn_handling=turn_handling(turn_detection="vad"))
    backchannels: list[tuple[str, str]] = []
    transcribed: list[str] = []
    first.on("backchannel", lambda ev: backchannels.append(("first", ev.transcript)))
    second.on("backchannel", lambda ev: backchannels.append(("second", ev.transcript)))
    off.session.on("user_input_transcribed", lambda ev: transcribed.append(ev.transcript))
    try:
        await off.start(first, say=MONOLOGUE)
        await off.run_until(1.9)  # "okay" ended at 1.35; its final came at 1.65
        off.session.interrupt()
        off.session.update_agent(second)
        await off.run_until(4.0)
    finally:
        await off.aclose()
    assert backchannels == [("first", "okay")]
    assert [t for t in transcribed if t.strip()] == []
    assert off.user_messages() == [] and off.llm.calls == []


# ------------------------------------------------------------------------- 7. uninterruptible speech


async def test_7_uninterruptible_speech_emits_no_interruption(make_filter):
    """During ``say(..., allow_interruptions=False)`` a "stop" interrupts nothing: the agent plays
    its line to the end and no ``interruption`` event claims otherwise."""
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter())
    s = Scenario(
        name="uninterruptible",
        title="stop during an uninterruptible line",
        agent_says=None,
        user=(UserSpeech.say("stop", at=1.0),),
        expect=("turn",),
        duration=3.0,
    )
    off = OfflineSession(user=s.user, turn_handling=turn_handling(turn_detection="vad"))
    interruptions, decisions = [], []
    agent.on("interruption", interruptions.append)
    agent.on("decision", decisions.append)
    line = "Please listen to the following legal notice in full."
    try:
        await off.start(agent)
        off.session.say(line, allow_interruptions=False)
        await off.run_until(s.duration)
    finally:
        await off.aclose()
    assert any(d.decision.interrupts for d in decisions), "the gate should have judged 'stop' a command"
    assert interruptions == []
    assert [st for st in off.audio_output.stops if st.was_playing and st.cleared_at < off.closed_at] == []
    assert ("assistant", line) in off.chat_messages()


# ---------------------------------------------------------- 8. the user's own options are merged


async def test_8_turn_handling_merges_the_users_settings():
    """The deprecated ``AgentSession`` keyword arguments given to ``turn_handling()`` reach the
    session (``AgentSession`` ignores them once ``turn_handling=`` is passed); explicit gate-breaking
    values fail loudly, naming the argument."""
    handling = turn_handling(
        turn_detection="vad", min_interruption_words=2, min_endpointing_delay=0.3, preemptive_generation=False
    )
    off = OfflineSession(turn_handling=handling)
    try:
        opts = off.session.options
        assert opts.interruption["min_words"] == 2 and opts.interruption["mode"] == "vad"
        assert opts.turn_handling["endpointing"]["min_delay"] == 0.3
        assert opts.preemptive_generation["enabled"] is False
    finally:
        await off.session.aclose()
    for bad, name in (
        ({"min_interruption_words": 0}, "min_interruption_words"),
        ({"interruption": {"mode": "adaptive"}}, "mode"),
        ({"resume_false_interruption": True}, "resume_false_interruption"),
        ({"allow_interruptions": False}, "allow_interruptions"),
    ):
        with pytest.raises(ValueError, match=name):
            turn_handling(**bad)
    with pytest.raises(TypeError, match="min_words_typo"):
        turn_handling(min_words_typo=2)


# ---------------------------------------------------------------------------- 4. realtime models


class _FakeRealtimeSession(llm.RealtimeSession):
    def __init__(self, model: llm.RealtimeModel) -> None:
        super().__init__(model)
        self._ctx = llm.ChatContext.empty()
        self._tools = llm.ToolContext.empty()

    @property
    def chat_ctx(self) -> llm.ChatContext:
        return self._ctx

    @property
    def tools(self) -> llm.ToolContext:
        return self._tools

    async def update_instructions(self, instructions: str) -> None: ...
    async def update_chat_ctx(self, chat_ctx: llm.ChatContext) -> None: ...
    async def update_tools(self, tools: list) -> None: ...
    def update_options(self, *, tool_choice=None) -> None: ...
    def push_audio(self, frame) -> None: ...
    def push_video(self, frame) -> None: ...
    def generate_reply(self, *, instructions=None, tool_choice=None, tools=None):
        return asyncio.get_running_loop().create_future()
    def commit_audio(self) -> None: ...
    def clear_audio(self) -> None: ...
    def interrupt(self) -> None: ...
    def truncate(self, *, message_id, modalities, audio_end_ms, audio_transcript=None) -> None: ...
    async def aclose(self) -> None: ...


class _FakeRealtimeModel(llm.RealtimeModel):
    """The least of a realtime model: server-side turn detection the client may switch off."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=llm.RealtimeCapabilities(
                message_truncation=True,
                turn_detection=True,
                user_transcription=True,
                auto_tool_reply_generation=True,
                audio_output=True,
                manual_function_calls=True,
                can_disable_turn_detection=True,
            )
        )
        self.turn_detection_disabled: list[bool] = []

    def session(self, *, turn_detection_disabled: bool = False) -> llm.RealtimeSession:
        self.turn_detection_disabled.append(turn_detection_disabled)
        return _FakeRealtimeSession(self)

    async def aclose(self) -> None: ...


async def test_4_realtime_model_keeps_its_turn_detection(make_filter, caplog, monkeypatch):
    """On a realtime model the gate cannot run (no transcript to hold before the model acts).
    ``turn_handling(llm=model)`` leaves the session's turn handling alone, so the model keeps its
    server-side turn detection; the agent warns once, saying why."""
    import softack.gate as gate

    monkeypatch.setattr(gate, "_realtime_warned", False)
    from softack.testing import ScriptedVAD

    with caplog.at_level(logging.WARNING, logger="softack"):
        for handling in ("merged", "plain"):
            model = _FakeRealtimeModel()
            th = turn_handling(llm=model) if handling == "merged" else turn_handling()
            off = OfflineSession(turn_handling=th, llm=None)
            from livekit.agents import AgentSession

            session = AgentSession(vad=ScriptedVAD(off.clock), llm=model, turn_handling=th)
            session.input.audio = off.audio_input
            session.output.audio = off.audio_output
            try:
                await session.start(SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter()))
                await asyncio.sleep(0.2)
            finally:
                await session.aclose()
                await off.session.aclose()
            # the gate's own options switch the model's turn detection off; turn_handling(llm=) does not
            assert model.turn_detection_disabled == [handling == "plain"], handling
    warnings = [r for r in caplog.records if "realtime model" in r.getMessage()]
    assert len(warnings) == 1 and "turn detection" in warnings[0].getMessage()


# ------------------------------------------------------------------------------ 9. thinking + command


# the command's timing per configuration: the agent has committed the user's turn and is still
# thinking (its reply was started on the final transcript, preemptively, and takes ``ttft``) when
# the user speaks. The word is drawn out (0.9 s, "stooop", "yeaaah") and the STT's first text comes
# 1.1 s after the voice began: on a quiet machine the reply's first audio is ready ~0.55 s after
# the voice, so half a second of margin either way before the text, and VAD's end of the speech
# (~0.55 s after the voice ends, when a reply no longer waits for text) comes after the text. (With a
# 0.35 s word and text 0.7 s after it, the late margin was 0.14 s and a loaded 2-core machine ran
# past it.) In the default configuration LiveKit's turn detector commits the turn later (~4.5 s).
THINKING = {
    "vad": {"at": 2.9, "ttft": 1.0, "duration": 6.5, "options": {"turn_handling": turn_handling(turn_detection="vad")}},
    "defaults": {
        "at": 4.8,
        "ttft": 2.9,
        "duration": 8.0,
        # the README's configuration, with the transcript paced by LiveKit's synchronizer (its own
        # wrapper on the audio output, under the gate's)
        "options": {"turn_handling": turn_handling(), "livekit_defaults": True, "sync_transcript": True},
    },
}


async def test_9_command_while_thinking_stops_before_any_audio(make_filter):
    """The user's turn is committed and the agent is thinking when they say "stop"; the reply's
    first audio is ready before the STT's first text. No audio of the reply is heard over them:
    the gate holds the reply's first frame while the speech is pending judgement, and the
    interruption drops it. A "yeah" in the same place is a nod: the reply plays, unbroken, as soon
    as the nod is judged. Both configurations."""
    await _command_while_thinking(make_filter, duration=0.9, first_text_after=1.1)


async def test_9_an_stt_slower_than_vad_still_holds_the_reply(make_filter):
    """The same with a short word whose first text comes 0.45 s after VAD's end of speech (the
    voice: 0.4 s; VAD ends it 0.55 s later; the text 1.4 s after the onset). The hold waits for the
    text, not for the voice: before, it let the reply play from the end of speech until "stop"
    arrived. It gives up at the no-transcript limit from the onset at the latest (3 s here: 1.6 s
    after the text, so a loaded machine does not reach it first)."""
    await _command_while_thinking(make_filter, duration=0.4, first_text_after=1.4, no_transcript_timeout=3.0)


async def test_9_a_sound_with_no_text_holds_the_reply_until_the_limit(make_filter):
    """A cough while the agent thinks: VAD hears voice, the STT never sends words. The reply's
    first audio waits for them until the no-transcript limit from the onset (2 s), then plays in
    full; nothing is interrupted and the reply stays in the conversation."""
    from softack.testing import ScriptedLLM

    t = THINKING["vad"]
    s = Scenario(
        name="think-cough-vad",
        title="a cough while the agent thinks",
        agent_says=None,
        user=(UserSpeech.say("tell me about the fees", at=0.5), UserSpeech.sound(at=t["at"], duration=0.3)),
        expect=("turn", "ignore"),
        duration=t["duration"],
        replies={"fees": MONOLOGUE},
    )
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter())
    run = await asyncio.wait_for(
        _run_with_llm(s, agent, ScriptedLLM(s.replies, ttft=t["ttft"]), **t["options"]), timeout=s.duration + 15.0
    )
    voice = run.offline.clock.wall(s.user[1].start)
    (held_from, held_to, outcome), = _reply_hold(run).holds
    assert outcome == "timeout", (held_from - voice, held_to - voice)
    # held past the end of the voice (VAD ends it 0.85 s after the onset), to the limit (2 s)
    assert held_to - voice >= 1.5, held_to - voice
    assert run.interruptions == [] and cuts(run) == [] and run.gaps == []
    assert ("assistant", MONOLOGUE) in run.offline.chat_messages()


async def test_9_a_typed_message_is_not_held_as_untranscribed_voice(make_filter):
    """LiveKit's text input marks the user "speaking" for a typed message, and no STT ever
    transcribes it: the reply to it plays when ready, not at the no-transcript limit."""
    from livekit.agents.voice.room_io import TextInputEvent
    from livekit.agents.voice.room_io.types import _default_text_input_cb

    from softack.testing import ScriptedLLM

    off = OfflineSession(user=(), llm=ScriptedLLM({"fees": MONOLOGUE}, ttft=0.3), turn_handling=turn_handling(turn_detection="vad"))
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter())
    try:
        await off.start(agent)
        await off.run_until(1.0)
        await _default_text_input_cb(off.session, TextInputEvent(text="tell me about the fees", info=None, participant=None))
        await off.run_until(4.0)
        hold = _find_reply_hold(off.session)
    finally:
        await off.aclose()
    assert off.audio_output.segment_starts, "the reply never played"
    assert hold is not None and [o for _, _, o in hold.holds if o == "timeout"] == [], hold.holds
    assert ("assistant", MONOLOGUE) in off.chat_messages()


async def _command_while_thinking(make_filter, *, duration: float, first_text_after: float, **agent_options) -> None:
    def shape(config: str, words: str) -> Scenario:
        t = THINKING[config]
        return Scenario(
            name=f"think-{words}-{config}",
            title=f"{words} while the agent thinks",
            agent_says=None,
            user=(
                UserSpeech.say("tell me about the fees", at=0.5),
                UserSpeech.say(words, at=t["at"], duration=duration, first_text_after=first_text_after),
            ),
            expect=("turn", "interrupt" if words == "stop" else "ignore"),
            duration=t["duration"],
            replies={"fees": MONOLOGUE, "stop": REPLY},
        )

    async def run(config: str, words: str):
        from softack.testing import ScriptedLLM

        s = shape(config, words)
        agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=make_filter(), **agent_options)
        llm = ScriptedLLM(s.replies, ttft=THINKING[config]["ttft"])
        return await asyncio.wait_for(_run_with_llm(s, agent, llm, **THINKING[config]["options"]), timeout=s.duration + 15.0)

    runs = await asyncio.gather(*(run(c, w) for c in THINKING for w in ("stop", "yeah")))
    report = []
    for stop_run, nod_run in zip(runs[::2], runs[1::2]):
        where = stop_run.scenario.name
        for r in (stop_run, nod_run):
            decided = [d for d in r.decisions if d.transcript in ("stop", "yeah")]
            assert decided and decided[0].agent_state == "thinking", (r.scenario.name, decided[:1])
            # the reply's first audio came while the words were pending, and was held
            hold = _reply_hold(r)
            expected = ["dropped" if r is stop_run else "judged"]
            assert hold is not None and [o for _, _, o in hold.holds][:1] == expected, (r.scenario.name, hold and hold.holds)
        out, clock = stop_run.offline.audio_output, stop_run.offline.clock
        voice = stop_run.scenario.user[1]
        # from the voice to well after the text that decides (the voice may end long before it)
        until = max(voice.end, voice.start + first_text_after) + 0.6
        played_over = sum(
            min(f.end, clock.wall(until)) - max(f.start, clock.wall(voice.start))
            for f in out.frames
            if f.end > clock.wall(voice.start) and f.start < clock.wall(until)
        )
        assert played_over == 0.0, f"{where}: {played_over * 1e3:.0f} ms of the reply played over 'stop'"
        assert "stop" in user_turns(stop_run)[-1], where
        # what was never heard is not in the conversation either
        assert ("assistant", MONOLOGUE) not in stop_run.offline.chat_messages(), where
        # the nod: the reply plays, unbroken, once the nod is judged
        nod_out = nod_run.offline.audio_output
        assert [b.transcript for b in nod_run.backchannels] == ["yeah"], nod_run.scenario.name
        assert nod_out.segment_starts, "the reply never played"
        first_text = min(e.at for e in nod_run.offline.stt.emitted if e.speech == 1 and e.text)
        assert nod_out.segment_starts[0] >= first_text - 0.01, nod_run.scenario.name
        assert nod_run.gaps == [] and cuts(nod_run) == [], nod_run.scenario.name
        (held_from, held_to, _), = _reply_hold(nod_run).holds
        report.append(
            f"{where.split('-')[-1]}: nod held the reply {1e3 * (held_to - held_from):.0f} ms, its audio started "
            f"{1e3 * (nod_out.segment_starts[0] - first_text):.0f} ms after the nod's first transcript; "
            f"command: {played_over * 1e3:.0f} ms of the reply over the user"
        )
    print("\n" + "\n".join(report))


def _reply_hold(run):
    """The gate's hold on the session's audio output, as it was before the session closed."""
    return getattr(run, "reply_hold", None)


def _find_reply_hold(session):
    from softack.gate import _ReplyHold

    out = session.output.audio
    while out is not None and not isinstance(out, _ReplyHold):
        out = out.next_in_chain
    return out


async def _run_with_llm(s: Scenario, agent, scripted_llm, **session_options):
    from softack.testing.scenario import ScenarioRun, _judge, _record_gate_events

    session_options.setdefault("turn_handling", turn_handling(turn_detection="vad"))
    off = OfflineSession(user=s.user, llm=scripted_llm, **session_options)
    run = ScenarioRun(scenario=s, label="gate", offline=off, outcomes=[])
    _record_gate_events(agent, run)
    try:
        await off.start(agent)
        await off.run_until(s.duration)
    finally:
        run.reply_hold = _find_reply_hold(off.session)  # the session drops its outputs on close
        await off.aclose()
    run.outcomes = _judge(s, off, run)
    return run


# ----------------------------------------------------------------------------- 10. STT error counter


async def test_10_backchannels_reset_the_stt_error_count(make_filter):
    """LiveKit closes the session after ``max_unrecoverable_errors`` STT failures with no transcript
    in between. A "yeah" between two failures proves the STT recovered, held back or not: the
    session survives the second failure and the agent keeps talking."""
    s = Scenario(
        name="error-count",
        title="STT failure, yeah, STT failure",
        agent_says=MONOLOGUE,
        user=(UserSpeech.say("yeah", at=1.5),),
        expect=("ignore",),
        duration=4.5,
    )
    closed: list = []
    run = await run_gate(
        s,
        make_filter,
        stt_options={"faults": [STTFault(at=0.5, retryable=False), STTFault(at=3.0, retryable=False)]},
        session_options={"conn_options": SessionConnectOptions(max_unrecoverable_errors=1)},
    )
    closed = [e for e in run.offline.timeline if "close" in e.what and e.source != "run"]
    assert len(run.offline.stt.failures) == 2
    assert [b.transcript for b in run.backchannels] == ["yeah"]
    # the session was not closed by the second failure: the agent still talks after it
    assert run.offline.audio_output.audible_at(run.offline.clock.wall(4.2)), closed
    assert run.offline.user_messages() == []
