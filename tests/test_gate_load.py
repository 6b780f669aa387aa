"""Fifty sessions in one process (issue 5, item 4): the gate under load.

Fifty real ``AgentSession``s, each with its own script (its own words, timings and, for some, its
own soft-ack and keyword lists), run at the same time in one event loop through
``softack.testing.run_scenario``, twice (two rounds). Each script is also run alone (one session
in its own process and event loop, in a pool of worker processes so the reference runs do not
take 50 x 5 s), and in both rounds every session must decide exactly as it did alone: the same
decisions (transcript, final or interim, action, reason), the same backchannels and interruptions,
the same user turns and LLM requests, and nothing from any other session.

The event loop: every synchronous method of the gate (``_Gate``: its STT-event handling, the
session-event handlers, timers, and what they call, ``BackchannelFilter.decide`` and
``session.interrupt()`` included) is timed while the fifty sessions run. The bound is 1 ms for the
longest one. What is held to it is the stretch's CPU time (``time.thread_time``) less two things
that are not the gate's: the interpreter's cyclic garbage collections that ran inside it
(``gc.callbacks``; the collector runs at whatever allocation crosses its threshold, anywhere in the
process), and the listeners of the gate's ``decision`` / ``backchannel`` / ``interruption`` events
(here the harness's recorders, which format a timeline note per event; in production, whatever the
application registers). CPU time, not wall time, because time the operating system gives the CPU
to other processes is not the gate's either. Each call is measured once per round (the same
work: the same session's n-th call of the same method) and its cost is the lesser of the two
measurements, the usual way to keep a burst of noise from a shared host (this runs on a 2-vCPU VM)
from being read as the gate's. The other figures (each round's longest stretch, CPU with the
listeners, wall time with and without collections, the lag of the whole event loop: every
session's audio, VAD, framework and gate together) are measured and printed, not bounded.

Fifty real-time sessions on two cores may play their tone with small underruns; this test judges
decisions and state, not gaps in the audio (the scenario tests do that, one or two at a time).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import inspect
import multiprocessing
import time
from dataclasses import dataclass

from softack import BackchannelFilter, OnnxClassifier, SoftAckConfig
from softack import gate as gate_module
from softack.demo import INSTRUCTIONS, MONOLOGUE
from softack.gate import SoftAckAgent, turn_handling
from softack.normalize import normalize
from softack.testing import Scenario, ScenarioRun, UserSpeech, run_scenario

SESSIONS = 50
DURATION = 5.0
BLOCKING_BOUND = 0.001  # the bound: 1 ms
REFERENCE_WORKERS = 10
ROUNDS = 2  # the gate's cost is measured in each; decisions compared in each

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
    """Session ``i``'s script: five shapes, words and timings varied per session. The user starts
    after 1 s (fifty sessions starting at once keep the loop busy for a few hundred ms) and every
    turn is committed by 4 s, well before the end of the run (5 s)."""
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
            expect=("ignore",) * len(user),  # not judged here: each session is compared with itself alone
            duration=DURATION,
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


async def run_script(sc: Script, bf: BackchannelFilter) -> ScenarioRun:
    agent = SoftAckAgent(
        instructions=INSTRUCTIONS, backchannel_filter=bf, no_transcript_timeout=sc.no_transcript_timeout
    )
    return await run_scenario(sc.scenario, agent, turn_handling=turn_handling(turn_detection="vad"), label="gate")


def summary(run: ScenarioRun) -> dict:
    """What the session decided and did, as plain data."""
    return {
        "decisions": [(d.transcript, d.final, d.decision.action.value, d.decision.reason.value) for d in run.decisions],
        "backchannels": [b.transcript for b in run.backchannels],
        "interruptions": [(i.reason, i.transcript) for i in run.interruptions],
        "user_turns": run.offline.user_messages(),
        "llm": sorted(set(run.offline.llm.user_texts)),
    }


# ------------------------------------------------------------------------- reference runs, alone

_worker_filters: dict[str, BackchannelFilter] | None = None


def _solo(i: int) -> dict:
    """Run script ``i`` alone: one session in a fresh event loop in a worker process."""
    global _worker_filters
    if _worker_filters is None:
        _worker_filters = filters(OnnxClassifier())
    sc = script(i)
    return summary(asyncio.run(run_script(sc, _worker_filters[sc.lists])))


def solo_results() -> list[dict]:
    context = multiprocessing.get_context("spawn")  # no fork of a process running onnxruntime
    with concurrent.futures.ProcessPoolExecutor(REFERENCE_WORKERS, mp_context=context) as pool:
        return list(pool.map(_solo, range(SESSIONS)))


# -------------------------------------------------------------------------------- gate timing


@dataclass(frozen=True)
class GateCall:
    """One outermost call into the gate, timed (seconds)."""

    round: int
    gate: object  # the _Gate (one per session)
    method: str
    wall: float
    cpu: float  # CPU time of this thread: time the OS gave to other processes is not in it
    gc: float  # cyclic garbage collections that ran inside the call
    listeners: float  # CPU time in the gate's event listeners (here: the harness's recorders), GC excluded

    @property
    def own(self) -> float:
        """The gate's own blocking: its CPU time, less collections and listeners."""
        return self.cpu - self.gc - self.listeners


class GateTimer:
    """Times every outermost call into a synchronous ``_Gate`` method: the garbage collections
    inside it (``gc.callbacks``), and the time spent in the listeners of the gate's events (the
    ``emit`` it was built with)."""

    def __init__(self) -> None:
        self.calls: list[GateCall] = []
        self.round = 0
        self._depth = 0
        self._gc = 0.0  # running totals
        self._gc_started = 0.0
        self._listeners = 0.0

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc += time.perf_counter() - self._gc_started

    def wrap(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            gc0, listeners0 = self._gc, self._listeners
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
                self._depth -= 1
                self.calls.append(
                    GateCall(self.round, args[0], name, wall, cpu, self._gc - gc0, self._listeners - listeners0)
                )

        return timed

    def timed_emit(self, emit):
        def emit_timed(*args, **kwargs):
            gc0, cpu0 = self._gc, time.thread_time()
            try:
                return emit(*args, **kwargs)
            finally:
                self._listeners += time.thread_time() - cpu0 - (self._gc - gc0)

        return emit_timed

    def install(self, monkeypatch) -> list[str]:
        gate = gate_module._Gate
        names = []
        for name, fn in vars(gate).items():
            if inspect.isfunction(fn) and not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
                if name == "__init__":
                    fn = self._init_with_timed_emit(fn)
                monkeypatch.setattr(gate, name, self.wrap(name, fn))
                names.append(name)
        gc.callbacks.append(self.on_gc)
        return names

    def _init_with_timed_emit(self, init):
        @functools.wraps(init)
        def init_timed(gate, *args, emit, **kwargs):
            init(gate, *args, emit=self.timed_emit(emit), **kwargs)

        return init_timed

    def uninstall(self) -> None:
        gc.callbacks.remove(self.on_gc)

    def longest(self, key, round: int) -> GateCall:
        return max((c for c in self.calls if c.round == round), key=key)

    def per_call_minimum(self, session_of: dict[int, dict[int, int]]) -> dict[tuple, list[GateCall]]:
        """Each session's calls, paired across rounds as (session, method, n-th such call):
        the same work measured once per round."""
        paired: dict[tuple, list[GateCall]] = {}
        seen: dict[tuple, int] = {}
        for c in self.calls:
            session = session_of[c.round][id(c.gate._session)]  # type: ignore[attr-defined]
            n = seen.get((c.round, session, c.method), 0)
            seen[(c.round, session, c.method)] = n + 1
            paired.setdefault((session, c.method, n), []).append(c)
        return paired


async def loop_lag_probe(lags: list[float], period: float = 0.002) -> None:
    """How late the event loop wakes a sleeper: its longest stall, whoever caused it."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - start - period)


# ----------------------------------------------------------------------------------- the test


def words_of(sc: Script) -> set[str]:
    return {w for s in sc.scenario.user for step in s.transcripts for w in normalize(step.text).split()}


async def test_fifty_concurrent_sessions_decide_as_alone(classifier, monkeypatch):
    """Two rounds of fifty concurrent sessions, each round compared with every script run alone;
    the gate's blocking is measured in both (see the module's docstring)."""
    scripts = [script(i) for i in range(SESSIONS)]
    assert len({s.scenario.user for s in scripts}) == SESSIONS, "every session needs its own script"

    started = time.perf_counter()
    alone = await asyncio.get_running_loop().run_in_executor(None, solo_results)
    alone_took = time.perf_counter() - started

    shared = filters(classifier)
    timer = GateTimer()
    timed = timer.install(monkeypatch)
    assert {"_on_stt_event", "_on_agent_state", "_on_user_state", "_decide", "_interrupt"} <= set(timed)
    rounds: list[list[ScenarioRun]] = []
    lags: list[float] = []
    took: list[float] = []
    try:
        for n in range(ROUNDS):
            timer.round = n
            probe = asyncio.create_task(loop_lag_probe(lags))
            started = time.perf_counter()
            try:
                rounds.append(await asyncio.gather(*(run_script(sc, shared[sc.lists]) for sc in scripts)))
            finally:
                probe.cancel()
            took.append(time.perf_counter() - started)
    finally:
        timer.uninstall()

    # -- every decision as alone, and nothing from another session
    for n, runs in enumerate(rounds):
        together = [summary(r) for r in runs]
        for i, (sc, got, ref) in enumerate(zip(scripts, together, alone, strict=True)):
            assert got == ref, f"session {i} ({sc.lists} lists) decided differently under load (round {n})"
            own = words_of(sc)
            said = (
                [d[0] for d in got["decisions"]]
                + got["backchannels"]
                + [t for _, t in got["interruptions"]]
                + got["user_turns"]
                + got["llm"]
            )
            for text in said:
                assert set(normalize(text).split()) <= own, f"session {i} saw words it was not told: {text!r}"
            others = set(NAMES) - {NAMES[i]}
            assert not {w for text in said for w in normalize(text).split()} & others
    # the scripts exercised what they were written for
    kinds = {d[2] for s in alone for d in s["decisions"]}
    assert {"ignore", "interrupt"} <= kinds
    assert sum(bool(s["backchannels"]) for s in alone) >= SESSIONS * 3 // 4
    assert sum(any(r == "no_transcript" for r, _ in s["interruptions"]) for s in alone) == 5
    assert sum(bool(s["user_turns"]) for s in alone) >= SESSIONS // 3

    # -- the event loop: the gate never holds it for more than 1 ms
    assert len(timer.calls) >= 10 * SESSIONS * ROUNDS
    assert sum(c.listeners > 0 for c in timer.calls) >= SESSIONS, "the gate's events were not timed"
    session_of = [{id(r.offline.session): i for i, r in enumerate(runs)} for runs in rounds]
    paired = timer.per_call_minimum(session_of)
    assert sum(len(calls) == ROUNDS for calls in paired.values()) >= 0.9 * len(paired)
    # a call's cost is the least of its measurements (a burst of noise from the host is not the gate's)
    best = {key: min(calls, key=lambda c: c.own) for key, calls in paired.items()}
    worst_key, worst = max(best.items(), key=lambda kv: kv[1].own)
    decide = max(
        min(rounds[n][i].decisions[k].duration for n in range(ROUNDS))
        for i in range(SESSIONS)
        for k in range(len(rounds[0][i].decisions))
    )
    lags.sort()
    report = [
        f"{SESSIONS} sessions: alone (pool of {REFERENCE_WORKERS} processes) {alone_took:.1f} s, "
        f"together {' s, '.join(f'{t:.1f}' for t in took)} s; {len(timer.calls)} gate calls"
    ]
    for n in range(ROUNDS):
        own = timer.longest(lambda c: c.own, n)
        cpu = timer.longest(lambda c: c.cpu - c.gc, n)
        wall_no_gc = timer.longest(lambda c: c.wall - c.gc, n)
        wall = timer.longest(lambda c: c.wall, n)
        report.append(
            f"round {n}: longest gate stretch {own.own * 1e3:.3f} ms CPU less GC and listeners "
            f"({own.method}); {(cpu.cpu - cpu.gc) * 1e3:.3f} ms CPU less GC with listeners; "
            f"{(wall_no_gc.wall - wall_no_gc.gc) * 1e3:.3f} ms wall less GC; {wall.wall * 1e3:.3f} ms wall"
        )
    report.append(
        f"longest gate call, least of its {ROUNDS} measurements: {worst.own * 1e3:.3f} ms "
        f"(session {worst_key[0]}, {worst_key[1]}); longest decide(), likewise: {decide * 1e3:.3f} ms"
    )
    report.append(
        f"event-loop lag (all sessions, all sources): p50 {lags[len(lags) // 2] * 1e3:.2f} ms, "
        f"p99 {lags[int(len(lags) * 0.99)] * 1e3:.2f} ms, max {lags[-1] * 1e3:.1f} ms"
    )
    print("\n" + "\n".join(report))
    assert decide <= BLOCKING_BOUND, "\n".join(report)
    assert worst.own <= BLOCKING_BOUND, "\n".join(report)
