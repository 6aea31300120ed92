"""The named timers behind auto-leave, error display and LED feedback."""

from __future__ import annotations

import asyncio

from kiosk.timers import Timers


async def test_fire_restart_and_cancel() -> None:
    fired: list[str] = []
    timers = Timers(fired.append)
    timers.start("auto_leave", 0.5)
    timers.start("feedback", 0.05)
    timers.start("error", 0.1)
    timers.cancel("error")
    await asyncio.sleep(0.3)
    timers.start("auto_leave", 0.5)  # starting again restarts: it fires once, later
    await asyncio.sleep(0.3)
    assert fired == ["feedback"]
    await asyncio.sleep(0.5)
    assert fired == ["feedback", "auto_leave"]
    assert timers.pending() == set()
    timers.start("x", 10)
    timers.cancel_all()
    assert timers.pending() == set()
