"""USB (UVC) cameras through PyAV's V4L2 input, and any other input PyAV opens.

``source`` is ``/dev/videoN``, the V4L2 name of a camera (``/sys/class/video4linux/*/name``,
e.g. ``"HD Pro Webcam C920"``), a video file, or ``lavfi:<filter graph>`` (a device-less
test picture). A device paces itself; a file or filter graph is paced to ``fps`` here and
loops at its end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.health import Health
from hal.interfaces import VIDEO_CLOCK_RATE
from hal.pi.threaded import ThreadedSource

log = logging.getLogger(__name__)

SYSFS_V4L = Path("/sys/class/video4linux")
LAVFI = "lavfi:"


def find_video_device(name: str, sysfs: Path = SYSFS_V4L) -> str:
    """``/dev/videoN`` of the capture node whose V4L2 name is ``name``."""
    found = []
    for node in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:] or 0)):
        label = (node / "name").read_text().strip() if (node / "name").exists() else ""
        index = (node / "index").read_text().strip() if (node / "index").exists() else "0"
        if label == name and index == "0":  # index 0: a camera's capture node, not metadata
            return f"/dev/{node.name}"
        found.append(label)
    raise DeviceMissingError(f"no camera named {name!r}; cameras: {sorted(set(found)) or 'none'}")


class AvCamera:
    def __init__(
        self, source: str, width: int, height: int, fps: int, input_format: str = "mjpeg"
    ) -> None:
        self.source = source
        self._width, self._height, self._fps = width, height, fps
        self._input_format = input_format
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._reader: ThreadedSource[av.VideoFrame] | None = None
        self._paced = False
        self._start = 0.0
        self._due = 0.0
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

    def _open(self) -> tuple[av.container.InputContainer, bool]:
        """The opened input, and whether it needs pacing here (it is not a camera)."""
        if self.source.startswith(LAVFI):
            return av.open(self.source.removeprefix(LAVFI), format="lavfi"), True
        if Path(self.source).is_file():
            return av.open(self.source), True
        path = self.source if self.source.startswith("/dev/") else find_video_device(self.source)
        if not Path(path).exists():
            raise DeviceMissingError(f"camera {path} is not there")
        options = {
            "video_size": f"{self._width}x{self._height}",
            "framerate": str(self._fps),
            "input_format": self._input_format,
        }
        return av.open(path, format="v4l2", options=options), False

    async def start(self) -> None:
        async with self._opening:  # the hot-plug loop and a reader may both try
            if self._reader is None:
                await self._open_reader()

    async def _open_reader(self) -> None:
        try:
            container, self._paced = await asyncio.to_thread(self._open)
        except HalError as exc:
            self._health = Health.of_exception(exc)
            raise
        except (av.FFmpegError, OSError) as exc:
            error = DeviceFailedError(f"camera {self.source}: {exc}")
            self._health = Health.of_exception(error)
            raise error from exc
        self._container = container
        self._frames = container.decode(video=0)
        self._start = self._due = time.monotonic()
        self._reader = ThreadedSource(f"camera {self.source}", self._next_frame, depth=1)
        self._health = Health.ok()
        log.info("camera %s open (%dx%d@%d)", self.source, self._width, self._height, self._fps)

    def _next_frame(self) -> av.VideoFrame:
        """On the worker thread: decode, scale, stamp; pace what is not a camera."""
        assert self._container is not None
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            if not self._paced:
                raise DeviceMissingError(f"camera {self.source} stopped delivering") from None
            self._container.seek(0)
            self._frames = self._container.decode(video=0)
            frame = next(self._frames)
        except av.FFmpegError as exc:
            raise DeviceMissingError(f"camera {self.source}: {exc}") from exc
        if self._paced:
            self._due += 1 / self._fps
            time.sleep(max(0.0, self._due - time.monotonic()))
            self._due = max(self._due, time.monotonic() - 1 / self._fps)
        out = frame.reformat(width=self._width, height=self._height, format="yuv420p")
        out.pts = round((time.monotonic() - self._start) * VIDEO_CLOCK_RATE)
        out.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return out

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
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None
        self._health = Health.missing("stopped")
