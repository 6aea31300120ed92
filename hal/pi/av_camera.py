"""USB (UVC) cameras through PyAV's V4L2 input, and any other input PyAV opens.

``source`` is ``/dev/videoN``, the V4L2 name of a camera (``/sys/class/video4linux/*/name``,
e.g. ``"HD Pro Webcam C920"``), a video file, or ``lavfi:<filter graph>`` (a device-less
test picture). A device paces itself; a file or filter graph is paced to ``fps`` here and
loops at its end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import av

from hal.errors import DeviceMissingError
from hal.pi.threaded_camera import ThreadedCamera
from hal.v4l2 import find_video_device

log = logging.getLogger(__name__)

LAVFI = "lavfi:"


class AvCamera(ThreadedCamera):
    def __init__(
        self, source: str, width: int, height: int, fps: int, input_format: str = "mjpeg"
    ) -> None:
        super().__init__(width, height, fps)
        self.source = source
        self.name = f"camera {source}"
        self._input_format = input_format
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._paced = False
        self._due = 0.0

    def _open_device(self) -> None:
        """The input, and whether it needs pacing here (a file or graph is no camera)."""
        if self.source.startswith(LAVFI):
            container, self._paced = av.open(self.source.removeprefix(LAVFI), format="lavfi"), True
        elif Path(self.source).is_file():
            container, self._paced = av.open(self.source), True
        else:
            path = (
                self.source if self.source.startswith("/dev/") else find_video_device(self.source)
            )
            if not Path(path).exists():
                raise DeviceMissingError(f"camera {path} is not there")
            options = {
                "video_size": f"{self._width}x{self._height}",
                "framerate": str(self._fps),
                "input_format": self._input_format,
            }
            container, self._paced = av.open(path, format="v4l2", options=options), False
        self._container = container
        self._frames = container.decode(video=0)
        self._due = time.monotonic()
        log.info("camera %s open (%dx%d@%d)", self.source, self._width, self._height, self._fps)

    def _capture(self) -> av.VideoFrame:
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
            # late (a busy machine): go on from now, as a camera drops what nobody read,
            # rather than hand out frames faster than real time to catch up
            self._due = max(self._due, time.monotonic())
        return self._stamp(frame.reformat(width=self._width, height=self._height, format="yuv420p"))

    def _close_device(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None
