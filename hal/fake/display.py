"""A screen for testers: it keeps the latest frame shown, for `kiosk display --png`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hal.fake.faults import Faults
from hal.health import Health, HealthState
from hal.interfaces import DisplayMode

if TYPE_CHECKING:
    from hal.interfaces import Canvas


class FakeDisplay:
    def __init__(self, mode: DisplayMode, fault: str | None = None) -> None:
        self.faults = Faults("display", fault)
        self._mode = mode
        self.latest: Canvas | None = None
        self.shown = 0  # frames put on the screen

    @property
    def health(self) -> Health:
        return self.faults.health

    @property
    def mode(self) -> DisplayMode | None:
        return self._mode if self.health.state is HealthState.OK else None

    async def start(self) -> None:
        self.faults.check()

    async def stop(self) -> None:
        return None

    def show(self, frame: Canvas) -> None:
        self.faults.check()
        if frame.shape != (self._mode.height, self._mode.width, 4):
            raise ValueError(f"a {frame.shape} frame on a {self._mode} screen")
        self.latest = frame.copy()
        self.shown += 1
