"""What the box sends as video: the camera, or a neutral frame when the camera is off
(privacy) or unavailable. No camera frame leaves the box while the camera is off."""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from hal import VIDEO_CLOCK_RATE, Camera, HalError
from hal.lazy import lazy_module
from hal.pacing import Pacer

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

PRIVACY_LUMA = 40  # dark grey: the camera is off on purpose
UNAVAILABLE_LUMA = 90  # lighter grey with a blue cast: the camera is not working
RETRY_S = 2.0


def flat_frame(width: int, height: int, luma: int, u: int = 128, v: int = 128) -> av.VideoFrame:
    planes = np.empty((height * 3 // 2, width), dtype=np.uint8)
    planes[:height] = luma
    flat = planes.reshape(-1)
    quarter = (height // 2) * (width // 2)
    flat[height * width : height * width + quarter] = u
    flat[height * width + quarter :] = v
    return av.VideoFrame.from_ndarray(planes, format="yuv420p")


class VideoSource:
    """Frames at the configured size and rate, whatever the camera is doing."""

    def __init__(self, camera: Camera, width: int, height: int, fps: int) -> None:
        self._camera = camera
        self.width, self.height, self.fps = width, height, fps
        self.camera_enabled = True
        self.camera_ok = True
        self._privacy = flat_frame(width, height, PRIVACY_LUMA)
        self._unavailable = flat_frame(width, height, UNAVAILABLE_LUMA, u=150, v=120)
        self._pacer = Pacer(1 / fps)
        self._start = time.monotonic()
        self._retry_at = 0.0

    @property
    def camera(self) -> Camera:
        return self._camera

    def camera_ready(self) -> bool:
        """On, and not waiting to try a camera that failed again."""
        return self.camera_enabled and time.monotonic() >= self._retry_at

    def camera_failed(self, exc: HalError) -> None:
        if self.camera_ok:
            log.warning("camera unavailable, sending a placeholder: %s", exc)
        self.camera_ok = False
        self._retry_at = time.monotonic() + RETRY_S

    def camera_worked(self) -> None:
        if not self.camera_ok:
            log.info("camera back")
        self.camera_ok = True

    async def read(self) -> av.VideoFrame:
        if self.camera_ready():
            try:
                frame = await self._camera.read()
            except HalError as exc:
                self.camera_failed(exc)
            else:
                self.camera_worked()
                if (frame.width, frame.height) != (self.width, self.height):
                    frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
                return self._stamp(frame)
        await self._pacer.wait()
        placeholder = self._privacy if not self.camera_enabled else self._unavailable
        # a fresh frame object: encoders write pict_type on what they are given
        return self._stamp(placeholder.reformat(format="yuv420p"))

    def pts(self) -> int:
        """Now, on the clock of the frames this source gives."""
        return round((time.monotonic() - self._start) * VIDEO_CLOCK_RATE)

    def _stamp(self, frame: av.VideoFrame) -> av.VideoFrame:
        frame.pts = self.pts()
        frame.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return frame
