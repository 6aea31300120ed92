"""What the box's cameras share: a device opened off the loop, read on a worker thread,
reported ``missing`` when it goes away and opened again on the next read."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av

from hal.camera_mode import CameraMode
from hal.errors import DeviceFailedError, HalError
from hal.health import Health
from hal.interfaces import VIDEO_CLOCK_RATE, H264Stream
from hal.pi.threaded import ThreadedSource


class ThreadedCamera(CameraMode):
    """Subclasses open (``_open_device``, blocking), capture one frame (``_capture``, on
    the worker thread) and close (``_close_device``)."""

    name = "camera"

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__(width, height, fps)
        self._reader: ThreadedSource[av.VideoFrame] | None = None
        self._start = 0.0
        self._health = Health.missing("not started")
        self._opening = asyncio.Lock()

    @property
    def health(self) -> Health:
        return self._health

    def h264(self) -> H264Stream | None:
        """Frames only: the call engine encodes them (see `PiCamera` for the exception)."""
        return None

    def _open_device(self) -> None:
        raise NotImplementedError

    def _capture(self) -> av.VideoFrame:
        raise NotImplementedError

    def _close_device(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        async with self._opening:  # the hot-plug loop and a reader may both try
            if self._reader is not None:
                return
            try:
                await asyncio.to_thread(self._open_device)
            except HalError as exc:
                self._health = Health.of_exception(exc)
                raise
            except Exception as exc:  # a driver or library fault: reported, never raised past
                error = DeviceFailedError(f"{self.name}: {type(exc).__name__}: {exc}")
                self._health = Health.of_exception(error)
                raise error from exc
            self._start = time.monotonic()
            self._reader = ThreadedSource(self.name, self._capture, depth=1)
            self._health = Health.ok()

    def _stamp(self, frame: av.VideoFrame) -> av.VideoFrame:
        frame.pts = round((time.monotonic() - self._start) * VIDEO_CLOCK_RATE)
        frame.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return frame

    async def read(self) -> av.VideoFrame:
        if self._reader is None:
            await self.start()  # unplugged before: plugged in again?
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
        self._close_device()
        self._health = Health.missing("stopped")
