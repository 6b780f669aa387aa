"""A scripted conversation (``Scenario``), run through an ``OfflineSession`` (``run_scenario``) and
judged utterance by utterance: did the agent stop, play on, or pass the words to the LLM."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import vad
from livekit.agents.voice import Agent

from .audio_output import PlaybackGap
from .llm import ScriptedLLM
from .script import UserSpeech
from .session import OfflineSession


Expectation = str  # "ignore" (a backchannel), "interrupt" (take the floor), "turn" (a normal turn)


@dataclass(frozen=True)
class Scenario:
    """A scripted conversation and what should happen to each user utterance.

    Attributes:
        name: a short key ("a", "b", ...).
        title: one line for humans.
        user: the user's utterances.
        expect: per utterance, "ignore" (the agent plays on, nothing enters the conversation),
            "interrupt" (the agent stops and the user's words reach the LLM) or "turn" (the agent
            was not talking, or had just finished: the user's words reach the LLM).
        agent_says: what the agent says at t = 0 (None: the agent starts silent).
        duration: seconds to run.
        replies: the scripted LLM's replies (phrase -> reply).
    """

    name: str
    title: str
    user: tuple[UserSpeech, ...]
    expect: tuple[Expectation, ...]
    agent_says: str | None = None
    duration: float = 8.0
    replies: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if len(self.user) != len(self.expect):
            raise ValueError(f"scenario {self.name}: one expectation per utterance")


@dataclass
class UtteranceOutcome:
    """What happened to one user utterance.

    Attributes:
        speech: the utterance.
        expected: its expectation.
        stopped_at: wall-clock time the agent's audio stopped (cut, or paused and never resumed)
            while this utterance was the latest one; None if it played on.
        paused: the agent's audio was paused (and resumed) meanwhile.
        reached_llm: the utterance's words reached the LLM as (part of) a user turn.
        first_text_at: wall-clock time of the utterance's first transcript with words.
        decisive_text_at: wall-clock time of the transcript the gate interrupted on, if it did.
        gap: seconds of silence inside the agent's audio meanwhile (pauses and underruns).
        agent_was_speaking: the agent's audio was playing when the user's voice began and still
            when the first words arrived (or was stopped in between).
    """

    speech: UserSpeech
    expected: Expectation
    stopped_at: float | None = None
    paused: bool = False
    reached_llm: bool = False
    first_text_at: float | None = None
    decisive_text_at: float | None = None
    gap: float = 0.0
    agent_was_speaking: bool = True

    @property
    def false_interruption(self) -> bool:
        return self.expected == "ignore" and (self.stopped_at is not None or self.reached_llm)

    @property
    def missed(self) -> bool:
        if self.expected == "interrupt":
            # a sound with no words has nothing to reach the LLM: stopping is all it can ask for
            has_words = any(step.text.strip() for step in self.speech.transcripts)
            if not self.agent_was_speaking:
                # nothing left to interrupt (an earlier mistake already stopped the agent)
                return has_words and not self.reached_llm
            return self.stopped_at is None or (has_words and not self.reached_llm)
        if self.expected == "turn":
            return not self.reached_llm
        return False

    @property
    def ok(self) -> bool:
        return not self.false_interruption and not self.missed and self.gap == 0.0


@dataclass
class ScenarioRun:
    """A finished run of one scenario: the session (still inspectable) and the outcomes."""

    scenario: Scenario
    label: str
    offline: OfflineSession
    outcomes: list[UtteranceOutcome]
    decisions: list[Any] = field(default_factory=list)  # softack.gate.DecisionEvent
    backchannels: list[Any] = field(default_factory=list)  # softack.gate.BackchannelEvent
    interruptions: list[Any] = field(default_factory=list)  # softack.gate.InterruptionEvent

    @property
    def false_interruptions(self) -> int:
        return sum(o.false_interruption for o in self.outcomes)

    @property
    def missed_interruptions(self) -> int:
        return sum(o.missed for o in self.outcomes)

    @property
    def gaps(self) -> list[PlaybackGap]:
        """Gaps in the agent's audio during the run (one still open at the end is cut there)."""
        end = self.offline.clock.wall(self.scenario.duration)
        out = self.offline.audio_output
        gaps = list(out.gaps)
        for p in out.pauses:
            # a pause still unresolved when the run ended is silence until the end
            resolved = [t for t in (*out.resumes, *(s.cleared_at for s in out.stops)) if t >= p]
            if p < end and (not resolved or min(resolved) >= end):
                gaps.append(PlaybackGap(p, end, 0, "pause"))
        gaps = [
            PlaybackGap(g.start, min(g.end, end), g.segment, g.cause) for g in gaps if g.start < end
        ]
        return [g for g in gaps if g.duration > GAP_TOLERANCE]

    @property
    def gap_seconds(self) -> float:
        return sum(g.duration for g in self.gaps)


# Shorter silences are scheduling jitter of this process, not something a listener hears as a gap.
GAP_TOLERANCE = 0.02


async def run_scenario(
    scenario: Scenario,
    agent: Agent,
    *,
    turn_handling: Mapping[str, Any] | None = None,
    label: str = "",
    vad: vad.VAD | None = None,
    stt_options: Mapping[str, Any] | None = None,
    session_options: Mapping[str, Any] | None = None,
) -> ScenarioRun:
    """Run ``scenario`` through a real ``AgentSession`` with ``agent``, then judge each utterance.

    A ``softack.gate`` agent's decisions, backchannels and interruptions are recorded too.
    ``stt_options`` go to the ``ScriptedSTT`` (``faults``, ``mute``), ``session_options`` to the
    ``AgentSession`` (e.g. ``conn_options``).
    """
    offline = OfflineSession(
        user=scenario.user,
        turn_handling=turn_handling,
        vad=vad,
        llm=ScriptedLLM(scenario.replies),
        stt_options=stt_options,
        **dict(session_options or {}),
    )
    run = ScenarioRun(scenario=scenario, label=label, offline=offline, outcomes=[])
    if callable(getattr(agent, "on", None)) and hasattr(agent, "backchannel_filter"):
        _record_gate_events(agent, run)
    try:
        await offline.start(agent, say=scenario.agent_says)
        await offline.run_until(scenario.duration)
    finally:
        await offline.aclose()
    run.outcomes = _judge(scenario, offline, run)
    return run


def _record_gate_events(agent: Any, run: ScenarioRun) -> None:
    off = run.offline

    def on_decision(ev: Any) -> None:
        run.decisions.append(ev)
        d = ev.decision
        score = "" if d.score is None else f" score={d.score:.2f}"
        kw = f" keyword={d.keyword!r}" if d.keyword else ""
        ctx = "" if d.context is None else f' after "...{d.context.said[-24:]}" ({d.context.cue})'
        off.note(
            "softack",
            f'decide "{ev.transcript}" ({ev.agent_state}, {"final" if ev.final else "interim"}){ctx}: '
            f"{d.action.value}{' (provisional)' if d.provisional else ''} {d.intent.value} reason={d.reason.value}{score}{kw}"
            f" in {ev.duration * 1e3:.2f} ms",
            ev.created_at,
        )

    def on_backchannel(ev: Any) -> None:
        run.backchannels.append(ev)
        off.note("softack", f'backchannel "{ev.transcript}" kept out of the conversation', ev.created_at)

    def on_interruption(ev: Any) -> None:
        run.interruptions.append(ev)
        off.note("softack", f'interrupt the agent ({ev.reason}, {ev.intent.value}) on "{ev.transcript}"', ev.created_at)

    agent.on("decision", on_decision)
    agent.on("backchannel", on_backchannel)
    agent.on("interruption", on_interruption)


def _judge(scenario: Scenario, off: OfflineSession, run: ScenarioRun) -> list[UtteranceOutcome]:
    from ..normalize import normalize

    clock, out = off.clock, off.audio_output
    speeches = off.stt.speeches  # sorted by start, as the STT indexes them
    order = sorted(range(len(scenario.user)), key=lambda i: scenario.user[i].start)
    finals = [normalize(s.transcripts[-1].text) if s.transcripts else "" for s in speeches]
    # a user turn is the finals of one or more utterances joined: attribute each LLM call's user
    # text to the utterances it is made of, matching from its end
    reached: set[int] = set()
    for call in off.llm.calls:
        rest = normalize(call.user_text)
        for j in range(len(speeches) - 1, -1, -1):
            if not rest:
                break
            if clock.wall(speeches[j].start) > call.at or not finals[j]:
                continue
            if rest == finals[j] or rest.endswith(" " + finals[j]):
                reached.add(j)
                rest = rest[: -len(finals[j])].strip()
    outcomes: list[UtteranceOutcome] = []
    for rank, i in enumerate(order):
        speech = scenario.user[i]
        o = UtteranceOutcome(speech=speech, expected=scenario.expect[i])
        start = clock.wall(speech.start)
        end = clock.wall(speeches[rank + 1].start) if rank + 1 < len(speeches) else clock.wall(scenario.duration)
        for s in out.stops:
            # a stop made by closing the session at the end of the run is not an outcome
            if s.was_playing and start <= s.at < end and s.cleared_at < clock.wall(scenario.duration):
                o.stopped_at = s.at
                break
        resumed_pauses = [p for p, r in zip(out.pauses, out.resumes) if start <= p < end]
        o.paused = bool(resumed_pauses)
        o.gap = sum(g.duration for g in run.gaps if start <= g.start < end)
        texts = [e for e in off.stt.emitted if e.speech == rank and e.text.strip()]
        if texts:
            o.first_text_at = texts[0].at
        # whether there was anything to interrupt by the time the words could be known
        o.agent_was_speaking = out.audible_at(start) and (
            o.first_text_at is None or out.audible_at(o.first_text_at) or o.stopped_at is not None
        )
        o.reached_llm = rank in reached
        for ev in run.decisions:
            if ev.decision.interrupts and start <= ev.created_at < end:
                o.decisive_text_at = max((e.at for e in texts if e.at <= ev.created_at), default=None)
                break
        outcomes.append(o)
    return outcomes
