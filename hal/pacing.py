"""Real-time pacing for synthetic sources (a real device is paced by its hardware)."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Ticks every ``period`` seconds from the first call to :meth:`wait`.

    A consumer up to ``buffered`` periods behind gets the missed ticks at once, as from a
    device's buffer; one further behind skips them instead of bursting to catch up, as a
    camera drops frames nobody read and a sound card overruns.
    """

    def __init__(self, period: float, buffered: int = 1) -> None:
        self._period = period
        self._buffered = buffered
        self._start: float | None = None
        self._tick = 0

    @property
    def start(self) -> float | None:
        return self._start

    async def wait(self) -> float:
        """Sleep until the next tick; returns its ``time.monotonic()`` time."""
        now = time.monotonic()
        if self._start is None:
            self._start = now
            return now
        self._tick += 1
        due = self._start + self._tick * self._period
        if now - due > self._buffered * self._period:
            self._tick = int((now - self._start) / self._period)
            due = self._start + self._tick * self._period
        if due > now:
            await asyncio.sleep(due - now)
        return due
