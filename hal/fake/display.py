"""A screen for testers: it keeps the latest frame shown, for `kiosk display --png`.

Like KMS's two framebuffers, it copies each frame into one of two buffers it made once
(a new 1280x720 array per frame would cost the box page faults on every page of it), and
like KMS it shows at most one frame a refresh: a frame handed over is lit at the next
refresh, and the next frame waits for that, as for a page flip."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from hal.fake.faults import Faults
from hal.health import Health, HealthState
from hal.interfaces import DisplayMode
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np

    from hal.interfaces import Canvas
else:
    np = lazy_module("numpy")


class FakeDisplay:
    def __init__(self, mode: DisplayMode, fault: str | None = None) -> None:
        self.faults = Faults("display", fault)
        self._mode = mode
        self._buffers: list[Canvas] = []
        self.shown = 0  # frames put on the screen
        self.lit_at = 0.0  # when the last frame handed over is lit (time.monotonic)

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

    @property
    def latest(self) -> Canvas | None:
        """The frame on the screen (until the next but one is shown)."""
        return self._buffers[self.shown % 2] if self.shown else None

    def free_at(self) -> float:
        return self.lit_at

    def show(self, frame: Canvas) -> None:
        self.faults.check()
        if frame.shape != (self._mode.height, self._mode.width, 4):
            raise ValueError(f"a {frame.shape} frame on a {self._mode} screen")
        if not self._buffers:
            self._buffers = [np.empty_like(frame), np.empty_like(frame)]
        wait = self.lit_at - time.monotonic()
        if wait > 0:  # the frame before is not lit yet: its "flip" is pending
            time.sleep(wait)
        np.copyto(self._buffers[(self.shown + 1) % 2], frame)
        self.shown += 1
        interval = 1 / self._mode.refresh_hz
        self.lit_at = (math.floor(time.monotonic() / interval) + 1) * interval
