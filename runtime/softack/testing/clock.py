"""The reference time of a scenario: every scripted event is given in seconds after it."""

from __future__ import annotations

import asyncio
import time


class ScenarioClock:
    """The reference time of a scenario; scripted parts wait for ``start()`` and count from it."""

    def __init__(self) -> None:
        self._t0: float | None = None
        self._started = asyncio.Event()

    def start(self, t0: float | None = None) -> None:
        """Set the reference to now (or to the wall-clock time ``t0``)."""
        self._t0 = time.time() if t0 is None else t0
        self._started.set()

    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def t0(self) -> float:
        if self._t0 is None:
            raise RuntimeError("the scenario clock has not started")
        return self._t0

    def rel(self, wall: float) -> float:
        """A wall-clock time (``time.time()``) as seconds since the reference."""
        return wall - self.t0

    def wall(self, offset: float) -> float:
        """Seconds since the reference as a wall-clock time."""
        return self.t0 + offset

    async def wait_started(self) -> None:
        await self._started.wait()

    async def sleep_until(self, offset: float) -> None:
        """Sleep until ``offset`` seconds after the reference."""
        await self.wait_started()
        delay = self.t0 + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
