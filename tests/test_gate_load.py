"""Fifty sessions in one process (issues 5 and 11): the gate under load, asserting nothing that load can change.

Fifty real ``AgentSession``s, each with its own script (its own words and timings and, for some,
its own soft-ack and keyword lists), run at the same time in one event loop. However busy the
machine and however the loop interleaves them, each session must:

- decide right: every decision it reports is what its own filter decides for that transcript, in
  the agent state and finality the gate saw (``decide`` is pure, so this is exact);
- keep to itself: every text it decides, reports or puts in its chat context holds only its own
  words (one word per session is said by no other);
- lose nothing: every final transcript its STT sent is either reported as a backchannel or, in
  order, in the user turns of its chat context, and the two never overlap;
- raise nothing: no exception reaches the event loop, no error is logged.

Nothing here is a time bound, and nothing depends on when an event is handled: the user's script
starts once the agent is heard (not at a fixed delay after the session starts), and a session
ends once everything it was sent is accounted for (the deadline only stops a hang). How long the
gate holds the event loop under this load is measured by ``make bench``
(``tests/benchmarks/load.py``), not asserted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from livekit.agents import stt

from softack import BackchannelFilter, SoftAckConfig
from softack.decision import FILTERED_AGENT_STATES, Action, Reason
from softack.demo import INSTRUCTIONS, MONOLOGUE
from softack.gate import BackchannelEvent, DecisionEvent, InterruptionEvent, SoftAckAgent, turn_handling
from softack.normalize import normalize
from softack.testing import OfflineSession, Scenario, ScriptedLLM, UserSpeech

SESSIONS = 50
# Only a hang guard: a session that has not accounted for everything by then has lost something.
SETTLE_DEADLINE = 120.0

AGENT_LINES = (
    MONOLOGUE,
    (
        "Let me walk you through the options for your contract, starting with the monthly plans "
        "and then the prepaid bundles we offer this season."
    ),
    (
        "Your current balance is forty two dollars, the next bill is due on the fifth, and you "
        "have six gigabytes of data left for this month."
    ),
)
BACKCHANNELS = ("yeah", "okay", "uh-huh", "mhm", "right", "sure", "got it", "i see", "yep", "alright")
# one word per session that no other session says
NAMES = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar "
    "papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu apple banana cherry "
    "grape lemon mango melon olive peach pear plum kiwi fig guava papaya apricot quince coconut "
    "nutmeg pepper ginger walnut almond cashew"
).split()
COMMANDS = ("wait {}", "stop {}", "no {}", "actually {}", "pause {}", "cancel {}")
QUESTIONS = ("what about {}", "how much is {}", "can you send {}")


@dataclass(frozen=True)
class Script:
    """One session's script: the scenario, its lists ("default", "radio": "roger" is a soft-ack,
    "strict": "roger" is a keyword) and its gate options."""

    scenario: Scenario
    lists: str = "default"
    no_transcript_timeout: float | None = 2.0


def script(i: int) -> Script:
    """Session ``i``'s script: five shapes, words and timings varied per session. Times count from
    the agent's first sound; its line lasts about 8 s, so the user speaks over it."""
    name = NAMES[i]
    t1 = 1.0 + 0.04 * (i % 6)
    bc = BACKCHANNELS[i % len(BACKCHANNELS)]
    user = [UserSpeech.say(bc, at=t1)]
    lists, timeout = "default", 2.0
    shape = i % 5
    if shape == 0:  # a backchannel, then a command with a keyword
        user.append(UserSpeech.say(COMMANDS[i % len(COMMANDS)].format(name), at=t1 + 0.8 + 0.03 * (i % 6)))
    elif shape == 1 and i % 2 == 0:  # two backchannels
        user.append(UserSpeech.say(BACKCHANNELS[(i + 3) % len(BACKCHANNELS)], at=t1 + 1.0 + 0.03 * (i % 4)))
    elif shape == 1:  # a backchannel, then speech the STT does not transcribe (limit 1 s)
        user.append(UserSpeech.sound(at=t1 + 0.9, duration=1.3, label=f"(no text {name})"))
        timeout = 1.0
    elif shape == 2:  # a backchannel, then a question the model decides
        user.append(UserSpeech.say(QUESTIONS[i % len(QUESTIONS)].format(name), at=t1 + 0.75 + 0.05 * (i % 3)))
    elif shape == 3:  # "roger" is a soft-ack here
        lists = "radio"
        user.append(UserSpeech.say("roger", at=t1 + 0.9))
        user.append(UserSpeech.say(f"roger {name}", at=t1 + 1.6))
    else:  # "roger" is a keyword here
        lists = "strict"
        user.append(UserSpeech.say(f"roger {name}", at=t1 + 1.0 + 0.05 * (i % 4)))
    return Script(
        scenario=Scenario(
            name=f"load-{i}",
            title=f"session {i}",
            agent_says=AGENT_LINES[i % len(AGENT_LINES)],
            user=tuple(user),
            expect=("ignore",) * len(user),  # not judged from timings here (see the module docstring)
            replies={name: f"Noted, {name}."},
        ),
        lists=lists,
        no_transcript_timeout=timeout,
    )


def config(lists: str) -> SoftAckConfig:
    base = SoftAckConfig()
    if lists == "radio":
        return base.with_soft_acks([*base.soft_acks, "roger"])
    if lists == "strict":
        return base.with_keywords([*base.keywords, "roger"])
    return base


def filters(classifier) -> dict[str, BackchannelFilter]:
    """One filter per list, shared by every session that uses it (as one worker process would)."""
    return {lists: BackchannelFilter(config(lists), classifier) for lists in ("default", "radio", "strict")}



@dataclass
class SessionRun:
    """One session's record: what the gate reported and the session it ran in."""

    script: Script
    filter: BackchannelFilter
    offline: OfflineSession
    decisions: list[DecisionEvent] = field(default_factory=list)
    backchannels: list[BackchannelEvent] = field(default_factory=list)
    interruptions: list[InterruptionEvent] = field(default_factory=list)

    def finals(self) -> list[str]:
        return [e.text for e in self.offline.stt.emitted if e.type is stt.SpeechEventType.FINAL_TRANSCRIPT]

    def turns_expected(self) -> list[str]:
        """The finals that were not reported as backchannels, in order."""
        backchannels = [normalize(b.transcript) for b in self.backchannels]
        out = []
        for text in map(normalize, self.finals()):
            if backchannels and backchannels[0] == text:
                backchannels.pop(0)
            else:
                out.append(text)
        return out

    def turns_heard(self) -> list[str]:
        return [normalize(t) for t in self.offline.user_messages()]

    def all_sent(self) -> bool:
        return len(self.offline.stt.emitted) == len(self.offline.stt.script())

    def settled(self) -> bool:
        """Everything the scripts sent has been accounted for (see ``test_fifty_concurrent_sessions``)."""
        return self.all_sent() and " ".join(self.turns_heard()) == " ".join(self.turns_expected())


async def run_session(sc: Script, bf: BackchannelFilter) -> SessionRun:
    """Run one script until all of it is accounted for (or the hang guard's deadline)."""
    scenario = sc.scenario
    off = OfflineSession(
        user=scenario.user, turn_handling=turn_handling(turn_detection="vad"), llm=ScriptedLLM(scenario.replies)
    )
    agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=bf, no_transcript_timeout=sc.no_transcript_timeout)
    run = SessionRun(sc, bf, off)
    agent.on("decision", run.decisions.append)
    agent.on("backchannel", run.backchannels.append)
    agent.on("interruption", run.interruptions.append)
    try:
        await off.session.start(agent)
        off.session.say(scenario.agent_says)
        # the user's script counts from the agent's first sound, however long the start took
        await off.wait_for_agent_state("speaking", timeout=SETTLE_DEADLINE)
        off.clock.start()
        await off.run_until(max(s.end for s in scenario.user))  # the VAD has played it all
        deadline = time.monotonic() + SETTLE_DEADLINE
        while not run.settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await off.aclose()
    return run


def words_of(sc: Script) -> set[str]:
    return {w for s in sc.scenario.user for step in s.transcripts for w in normalize(step.text).split()}


# ----------------------------------------------------------------------------------- the test


async def test_fifty_concurrent_sessions_decide_keep_to_themselves_and_lose_nothing(classifier, caplog):
    scripts = [script(i) for i in range(SESSIONS)]
    assert len({s.scenario.user for s in scripts}) == SESSIONS, "every session needs its own script"
    shared = filters(classifier)
    loop = asyncio.get_running_loop()
    loop_errors: list[dict] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: loop_errors.append(context))
    try:
        with caplog.at_level(logging.ERROR):
            runs = await asyncio.gather(*(run_session(sc, shared[sc.lists]) for sc in scripts))
    finally:
        loop.set_exception_handler(previous_handler)

    # -- raise nothing
    assert not loop_errors, loop_errors
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

    for i, run in enumerate(runs):
        sc, where = run.script, f"session {i} ({run.script.lists} lists)"
        # -- lose nothing: every scripted event went out, every final is a backchannel or a turn
        assert run.all_sent(), f"{where}: the script was not all sent"
        assert " ".join(run.turns_heard()) == " ".join(run.turns_expected()), (
            f"{where}: user turns {run.turns_heard()}, but finals less backchannels {run.turns_expected()}"
        )
        # -- decide right: each decision is the session's own filter's, for what the gate saw
        assert run.decisions, where
        for ev in run.decisions:
            assert ev.decision == run.filter.decide(ev.transcript, ev.agent_state, final=ev.final), (where, ev)
        decided = {(normalize(ev.transcript), ev.decision.action) for ev in run.decisions}
        for b in run.backchannels:
            assert (normalize(b.transcript), Action.IGNORE) in decided, (where, b)
        for x in run.interruptions:
            if x.reason == "decision":
                assert x.decision is not None and x.decision.action is Action.INTERRUPT, (where, x)
            else:  # speech with no transcript: only the sessions whose script has such a sound
                assert any(not s.transcripts for s in sc.scenario.user), (where, x)
        # -- keep to itself
        own = words_of(sc)
        said = (
            [ev.transcript for ev in run.decisions]
            + [b.transcript for b in run.backchannels]
            + [x.transcript for x in run.interruptions]
            + run.offline.user_messages()
            + run.offline.llm.user_texts
        )
        for text in said:
            assert set(normalize(text).split()) <= own, f"{where} saw words it was not told: {text!r}"

    # the scripts exercised what they were written for: ignores and interruptions, and each list
    # deciding "roger" its own way while the agent spoke
    judged = [(r.script.lists, ev) for r in runs for ev in r.decisions if ev.agent_state in FILTERED_AGENT_STATES]
    assert {Action.IGNORE, Action.INTERRUPT} <= {ev.decision.action for _, ev in judged}
    assert any(lists == "radio" and normalize(ev.transcript) == "roger" and ev.decision.reason is Reason.SOFT_ACK
               for lists, ev in judged)
    assert any(lists == "strict" and ev.decision.keyword == "roger" for lists, ev in judged)
    assert sum(bool(r.backchannels) for r in runs) >= SESSIONS // 2
    assert sum(bool(r.turns_heard()) for r in runs) >= SESSIONS // 3
