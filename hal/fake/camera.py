"""A synthetic camera: colour bars, a moving box and a machine-readable frame stamp."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from hal import framestamp
from hal.camera_mode import CameraMode
from hal.errors import DeviceFailedError
from hal.fake.faults import Faults
from hal.fake.h264 import FakeH264Stream
from hal.health import Health
from hal.interfaces import VIDEO_CLOCK_RATE
from hal.lazy import lazy_module
from hal.pacing import Pacer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

# BT.601 video-range YUV of white, yellow, cyan, green, magenta, red, blue, black
_BARS_YUV = [
    (235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34),
    (106, 202, 222), (81, 90, 240), (41, 240, 110), (16, 128, 128),
]  # fmt: skip


class FakeCamera(CameraMode):
    """Frames at the configured size and rate, paced in real time.

    Each frame carries its number and wall-clock capture time (see :mod:`hal.framestamp`),
    so a receiver can measure latency. ``faults`` unplugs, replugs or breaks it.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        fault: str | None = None,
        busy: bool = False,
        h264: bool = False,
        colour: tuple[int, int, int] | None = None,
    ) -> None:
        if width % 2 or height % 2 or width < framestamp.BLOCK or fps <= 0:
            raise DeviceFailedError(f"unsupported camera mode {width}x{height}@{fps}")
        super().__init__(width, height, fps)
        self.faults = Faults("camera", fault)
        self._pacer = Pacer(1 / fps)
        self._number = 0
        self._started = False
        self._background: npt.NDArray[np.uint8] | None = None
        # a busy scene: fresh grain every frame, as a real sensor in a real room gives; it
        # costs an encoder what a real camera costs (the bars alone compress to ~50 kbit/s)
        self._busy = busy
        self._grain: np.random.Generator | None = None
        self._h264 = h264  # encode H.264 "in hardware", as the Pi 4's camera path does
        # one solid colour (R, G, B) and nothing else: a participant told apart on a screen
        self._colour = colour

    @property
    def health(self) -> Health:
        return self.faults.health

    def h264(self) -> FakeH264Stream | None:
        return FakeH264Stream(self) if self._h264 else None

    async def start(self) -> None:
        self.faults.check()
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def read(self) -> av.VideoFrame:
        if not self._started:
            raise DeviceFailedError("camera read before start")
        self.faults.check()
        due = await self._pacer.wait()
        self.faults.check()  # unplugged while we slept
        if not self._started:
            raise DeviceFailedError("camera stopped")
        start = self._pacer.start
        assert start is not None
        frame = av.VideoFrame.from_ndarray(self._render(), format="yuv420p")
        frame.pts = round((due - start) * VIDEO_CLOCK_RATE)
        frame.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        self._number += 1
        return frame

    def _bars(self) -> npt.NDArray[np.uint8]:
        w, h = self._width, self._height
        planes = np.empty((h * 3 // 2, w), dtype=np.uint8)
        columns = (np.arange(w) * len(_BARS_YUV)) // w
        yuv = np.array(_BARS_YUV, dtype=np.uint8)[columns]  # (w, 3)
        planes[:h] = yuv[:, 0]
        # yuv420p: the two quarter-size chroma planes follow the luma plane back to back
        quarter = (h // 2) * (w // 2)
        flat = planes.reshape(-1)
        flat[h * w : h * w + quarter] = np.broadcast_to(yuv[::2, 1], (h // 2, w // 2)).ravel()
        flat[h * w + quarter :] = np.broadcast_to(yuv[::2, 2], (h // 2, w // 2)).ravel()
        return planes

    def _render(self) -> npt.NDArray[np.uint8]:
        w, h = self._width, self._height
        if self._colour is not None:
            if self._background is None:
                rgb = np.empty((h, w, 3), dtype=np.uint8)
                rgb[:] = self._colour
                picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                planes = np.asarray(picture.reformat(format="yuv420p").to_ndarray(), np.uint8)
                self._background = planes
            return self._background
        if self._background is None:
            self._background = self._bars()
        planes = self._background.copy()
        luma = planes[:h]
        if self._busy:
            if self._grain is None:
                self._grain = np.random.default_rng(self._number)
            noise = self._grain.integers(0, 24, size=luma.shape, dtype=np.uint8)
            np.add(luma, noise, out=luma, casting="unsafe")
        # a box that sweeps left to right once every two seconds, over the bars
        side = max(h // 6, 8)
        span = w - side
        x = (self._number * span // (2 * self._fps)) % span if span > 0 else 0
        top = h // 2 - side // 2
        luma[top : top + side, x : x + side] = 235
        framestamp.write(luma, framestamp.Stamp(self._number, int(time.time() * 1000)))
        return planes
