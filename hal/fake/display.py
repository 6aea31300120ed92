"""A screen for testers: it keeps the latest frame shown, for `kiosk display --png`.

Like KMS's framebuffers, it has three frames of its own (`buffers`), which the box draws
into in turn and which are shown without a copy; any other frame is copied into the next
of them (``own_frames=False``: a screen like fbdev's, which copies every frame). Like KMS
it shows at most one frame a refresh: a frame handed over is lit at the next refresh, and
the next frame waits for that, as for a page flip."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
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
    def __init__(
        self, mode: DisplayMode, fault: str | None = None, own_frames: bool = True
    ) -> None:
        self.faults = Faults("display", fault)
        self._mode = mode
        self._own_frames = own_frames
        self._buffers: list[Canvas] = []
        self._lit = 0  # which of them was shown last
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
        """The frame on the screen (until the box draws into it again)."""
        return self._buffers[self._lit] if self.shown else None

    def free_at(self) -> float:
        return self.lit_at

    def buffers(self) -> Sequence[Canvas]:
        return self._frames() if self._own_frames else ()

    def _frames(self) -> list[Canvas]:
        if not self._buffers:  # made once: a new array per frame would fault in every page
            shape = (self._mode.height, self._mode.width, 4)
            self._buffers = [np.zeros(shape, np.uint8) for _ in range(3)]
        return self._buffers

    def show(self, frame: Canvas) -> None:
        self.faults.check()
        if frame.shape != (self._mode.height, self._mode.width, 4):
            raise ValueError(f"a {frame.shape} frame on a {self._mode} screen")
        buffers = self._frames()
        wait = self.lit_at - time.monotonic()
        if wait > 0:  # the frame before is not lit yet: its "flip" is pending
            time.sleep(wait)
        mine = next((i for i, buffer in enumerate(buffers) if buffer is frame), None)
        if mine is None:
            mine = (self._lit + 1) % len(buffers)
            np.copyto(buffers[mine], frame)
        self._lit = mine
        self.shown += 1
        interval = 1 / self._mode.refresh_hz
        self.lit_at = (math.floor(time.monotonic() / interval) + 1) * interval
