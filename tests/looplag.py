"""How long the test's event loop was kept from running, so the gate tests' latency bounds hold on a busy machine.

The gate tests assert that the agent stopped within 50 ms of when it could. On a machine busy with
other work (CI beside another job; four test workers on two cores) the operating system can keep
the event loop's thread off the CPU for hundreds of milliseconds, and every timer fires that much
later, LiveKit's and the gate's alike. The bound is on what the gate adds: 50 ms plus the time the
loop's thread was *waiting for the CPU* over the same stretch. Time the loop spent running (the
gate's own work included: a decision that blocked the loop) is not excused: it shows as CPU time
of the loop's thread. The latency figure itself is `make bench`'s, on a quiet loop.
"""

from __future__ import annotations

import asyncio
import time

PERIOD = 0.005


class LoopLag:
    """Samples, every ``PERIOD`` seconds, how late the loop woke a sleeping task and how much of that
    lateness its thread spent off the CPU."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (woke at, seconds off the CPU while late), wall clock

    async def run(self) -> None:
        while True:
            wall, cpu = time.time(), time.thread_time()
            await asyncio.sleep(PERIOD)
            late = time.time() - wall - PERIOD
            ran = time.thread_time() - cpu
            self.samples.append((wall + PERIOD + late, max(0.0, late - ran)))

    def starved_between(self, start: float, end: float) -> float:
        """Seconds the loop's thread waited for the CPU in wake-ups overlapping [start, end] (wall clock)."""
        return sum(off for woke, off in self.samples if woke >= start and woke - off <= end + PERIOD)


_current = LoopLag()  # the running test's (an empty one outside a gate test: no allowance)


def current() -> LoopLag:
    return _current


async def watch():
    """Sample the running loop until the test ends (the ``loop_lag`` fixture)."""
    global _current
    _current = LoopLag()
    task = asyncio.get_running_loop().create_task(_current.run())
    try:
        yield _current
    finally:
        task.cancel()
        _current = LoopLag()
