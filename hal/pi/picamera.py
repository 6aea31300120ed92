"""The Raspberry Pi camera through picamera2 (libcamera), which exists only on the box.

``factory`` is the seam: it returns a Picamera2 or anything with the same methods, so
tests stand in for the camera. picamera2 itself is imported only when the default
factory runs.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.health import Health
from hal.interfaces import VIDEO_CLOCK_RATE
from hal.pi.threaded import ThreadedSource

log = logging.getLogger(__name__)


def open_picamera2() -> Any:
    try:
        module = importlib.import_module("picamera2")
    except ImportError as exc:
        raise DeviceMissingError(
            f"picamera2 is not installed (apt install python3-picamera2): {exc}"
        ) from exc
    if not module.Picamera2.global_camera_info():
        raise DeviceMissingError("no Pi camera connected")
    return module.Picamera2()


class PiCamera:
    def __init__(
        self, width: int, height: int, fps: int, factory: Callable[[], Any] = open_picamera2
    ) -> None:
        self._width, self._height, self._fps = width, height, fps
        self._factory = factory
        self._camera: Any = None
        self._reader: ThreadedSource[av.VideoFrame] | None = None
        self._start = 0.0
        self._health = Health.missing("not started")
        self._opening = asyncio.Lock()

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> int:
        return self._fps

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        async with self._opening:  # the hot-plug loop and a reader may both try
            if self._reader is None:
                await self._open_reader()

    async def _open_reader(self) -> None:
        try:
            camera = await asyncio.to_thread(self._open)
        except HalError as exc:
            self._health = Health.of_exception(exc)
            raise
        except (RuntimeError, OSError, ValueError) as exc:
            error = DeviceFailedError(f"Pi camera: {exc}")
            self._health = Health.of_exception(error)
            raise error from exc
        self._camera = camera
        self._start = time.monotonic()
        self._reader = ThreadedSource("picamera2", self._capture, depth=1)
        self._health = Health.ok()
        log.info("Pi camera open (%dx%d@%d)", self._width, self._height, self._fps)

    def _open(self) -> Any:
        camera = self._factory()
        # "RGB888" is B, G, R in memory: PyAV's bgr24
        config = camera.create_video_configuration(
            main={"size": (self._width, self._height), "format": "RGB888"},
            controls={"FrameRate": float(self._fps)},
        )
        camera.configure(config)
        camera.start()
        return camera

    def _capture(self) -> av.VideoFrame:
        """On the worker thread: libcamera paces the capture."""
        try:
            pixels = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise DeviceMissingError(f"Pi camera stopped: {exc}") from exc
        frame = av.VideoFrame.from_ndarray(pixels[:, : self._width, :3], format="bgr24")
        out = frame.reformat(format="yuv420p")
        out.pts = round((time.monotonic() - self._start) * VIDEO_CLOCK_RATE)
        out.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return out

    async def read(self) -> av.VideoFrame:
        if self._reader is None:
            await self.start()
        assert self._reader is not None
        try:
            return await self._reader.get()
        except HalError as exc:
            await self.stop()
            self._health = Health.of_exception(exc)
            raise

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader = None
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            except (RuntimeError, OSError) as exc:
                log.warning("Pi camera did not close cleanly: %s", exc)
            self._camera = None
        self._health = Health.missing("stopped")
