"""The gate's hold on the event loop with fifty sessions at once (moved here from the load test).

The fifty scripts of ``tests/test_gate_load.py`` run at the same time in one event loop, twice.
Every synchronous method of the gate (``_Gate``: its STT-event handling, the session-event
handlers, timers, and what they call, ``BackchannelFilter.decide`` and ``session.interrupt()``
included) is timed. What is reported against the target (1 ms) is the longest stretch's CPU time
(``time.thread_time``) less two things that are not the gate's: the interpreter's cyclic garbage
collections that ran inside it (``gc.callbacks``), and the listeners of the gate's events (here
the test's recorders; in production, whatever the application registers). CPU time, not wall
time, because time the operating system gives to other processes is not the gate's either. Each
call is measured once per round (the same session's n-th call of the same method) and its cost is
the lesser of the two. Wall time, and the lag of the whole event loop (every session's audio, VAD,
framework and gate together), are reported beside it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import time
from dataclasses import dataclass

from softack import gate as gate_module

ROUNDS = 2


@dataclass(frozen=True)
class GateCall:
    """One outermost call into the gate, timed (seconds)."""

    round: int
    gate: object  # the _Gate (one per session)
    method: str
    wall: float
    cpu: float  # CPU time of this thread
    gc: float  # cyclic garbage collections that ran inside the call
    listeners: float  # CPU time in the gate's event listeners, GC excluded

    @property
    def own(self) -> float:
        """The gate's own blocking: its CPU time, less collections and listeners."""
        return self.cpu - self.gc - self.listeners


class GateTimer:
    """Times every outermost call into a synchronous ``_Gate`` method, the garbage collections
    inside it and the time spent in the listeners of the gate's events."""

    def __init__(self) -> None:
        self.calls: list[GateCall] = []
        self.round = 0
        self._depth = 0
        self._gc = 0.0
        self._gc_started = 0.0
        self._listeners = 0.0
        self._patched: dict[str, object] = {}

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

    def _init_with_timed_emit(self, init):
        @functools.wraps(init)
        def init_timed(gate, *args, emit, **kwargs):
            init(gate, *args, emit=self.timed_emit(emit), **kwargs)

        return init_timed

    def install(self) -> list[str]:
        gate = gate_module._Gate
        for name, fn in list(vars(gate).items()):
            if inspect.isfunction(fn) and not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
                self._patched[name] = fn
                setattr(gate, name, self.wrap(name, self._init_with_timed_emit(fn) if name == "__init__" else fn))
        gc.callbacks.append(self.on_gc)
        return list(self._patched)

    def uninstall(self) -> None:
        gc.callbacks.remove(self.on_gc)
        for name, fn in self._patched.items():
            setattr(gate_module._Gate, name, fn)
        self._patched.clear()


async def _loop_lag_probe(lags: list[float], period: float = 0.002) -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - start - period)


def bench_load() -> dict:
    """Fifty concurrent sessions, ``ROUNDS`` times: the gate's longest synchronous stretch."""
    from softack import OnnxClassifier
    from tests.test_gate_load import SESSIONS, filters, run_session, script

    logging.getLogger("livekit").setLevel(logging.ERROR)
    scripts = [script(i) for i in range(SESSIONS)]
    shared = filters(OnnxClassifier())
    timer = GateTimer()
    lags: list[float] = []

    async def main():
        rounds = []
        for n in range(ROUNDS):
            timer.round = n
            probe = asyncio.create_task(_loop_lag_probe(lags))
            try:
                rounds.append(await asyncio.gather(*(run_session(sc, shared[sc.lists]) for sc in scripts)))
            finally:
                probe.cancel()
        return rounds

    timer.install()
    try:
        rounds = asyncio.run(main())
    finally:
        timer.uninstall()

    # pair each call across rounds: (session, method, n-th such call); its cost is the least
    session_of = [{id(r.offline.session): i for i, r in enumerate(runs)} for runs in rounds]
    paired: dict[tuple, list[GateCall]] = {}
    seen: dict[tuple, int] = {}
    for c in timer.calls:
        session = session_of[c.round].get(id(c.gate._session))  # type: ignore[attr-defined]
        n = seen.get((c.round, session, c.method), 0)
        seen[(c.round, session, c.method)] = n + 1
        paired.setdefault((session, c.method, n), []).append(c)
    best = [min(calls, key=lambda c: c.own) for calls in paired.values() if len(calls) == ROUNDS]
    worst = max(best, key=lambda c: c.own)
    decide = max(ev.duration for runs in rounds for r in runs for ev in r.decisions)
    lags.sort()
    return {
        "gate_stretch_ms": {
            "max": round(worst.own * 1e3, 3),  # CPU less GC and listeners, least of ROUNDS
            "method": worst.method,
            "max_wall_any_round": round(max(c.wall for c in timer.calls) * 1e3, 3),
            "calls": len(timer.calls),
            "sessions": SESSIONS,
        },
        "decide_under_load_ms_max_wall": round(decide * 1e3, 3),
        "loop_lag_ms": {
            "p50": round(lags[len(lags) // 2] * 1e3, 2),
            "p99": round(lags[int(len(lags) * 0.99)] * 1e3, 2),
            "max": round(lags[-1] * 1e3, 1),
        },
    }


if __name__ == "__main__":
    print(bench_load())
