"""The Raspberry Pi camera through picamera2 (libcamera), which exists only on the box.

``factory`` is the seam: it returns a Picamera2 or anything with the same methods, so
tests stand in for the camera. picamera2 itself is imported only when the default
factory runs.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from hal import v4l2
from hal.errors import DeviceFailedError, DeviceMissingError
from hal.pi.picamera_h264 import PiCameraH264, make_h264_encoder
from hal.pi.threaded_camera import ThreadedCamera

log = logging.getLogger(__name__)


def import_picamera2() -> Any:
    """The picamera2 module. DeviceMissingError when it is not installed; DeviceFailedError
    when it is but does not load, e.g. built against another numpy ("numpy.dtype size
    changed") or with a libcamera binding of another version."""
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        if exc.name in ("picamera2", "libcamera"):
            raise DeviceMissingError(
                f"picamera2 is not installed (apt install python3-picamera2): {exc}"
            ) from exc
        raise DeviceFailedError(f"picamera2 does not load: {exc}") from exc
    except Exception as exc:  # whatever its import runs may fail
        raise DeviceFailedError(f"picamera2 does not load: {type(exc).__name__}: {exc}") from exc


def pi_cameras() -> int:
    """How many cameras libcamera sees; DeviceMissingError or DeviceFailedError otherwise."""
    module = import_picamera2()
    try:
        return len(module.Picamera2.global_camera_info())
    except Exception as exc:
        raise DeviceFailedError(f"libcamera: {type(exc).__name__}: {exc}") from exc


def open_picamera2() -> Any:
    if not pi_cameras():
        raise DeviceMissingError("no Pi camera connected")
    module = import_picamera2()
    try:
        return module.Picamera2()
    except Exception as exc:
        raise DeviceFailedError(f"Pi camera: {type(exc).__name__}: {exc}") from exc


class PiCamera(ThreadedCamera):
    """Frames through picamera2; on a Pi 4 also H.264 from the hardware encoder."""

    name = "Pi camera"

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        factory: Callable[[], Any] = open_picamera2,
        sysfs: Path = v4l2.SYSFS_V4L,
        make_encoder: Callable[[int], Any] = make_h264_encoder,
        set_control: Callable[[int, int, int], None] = v4l2.set_control,
    ) -> None:
        super().__init__(width, height, fps)
        self._factory = factory
        self._camera: Any = None
        self._hardware_h264 = v4l2.hardware_h264_encoder(sysfs) is not None
        self._make_encoder = make_encoder
        self._set_control = set_control
        log.info(
            "Pi camera: H.264 %s",
            "by the hardware encoder" if self._hardware_h264 else "in software (no encoder)",
        )

    def h264(self) -> PiCameraH264 | None:
        if not self._hardware_h264:
            return None
        return PiCameraH264(self, self._make_encoder, self._set_control)

    @property
    def device(self) -> Any:
        """The open Picamera2."""
        if self._camera is None:
            raise DeviceMissingError("Pi camera is not open")
        return self._camera

    def _open_device(self) -> None:
        camera = self._factory()
        # "RGB888" is B, G, R in memory: PyAV's bgr24
        config = camera.create_video_configuration(
            main={"size": (self._width, self._height), "format": "RGB888"},
            controls={"FrameRate": float(self._fps)},
        )
        camera.configure(config)
        camera.start()
        self._camera = camera
        log.info("Pi camera open (%dx%d@%d)", self._width, self._height, self._fps)

    def _capture(self) -> av.VideoFrame:
        """On the worker thread: libcamera paces the capture."""
        try:
            pixels = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise DeviceMissingError(f"Pi camera stopped: {exc}") from exc
        frame = av.VideoFrame.from_ndarray(pixels[:, : self._width, :3], format="bgr24")
        return self._stamp(frame.reformat(format="yuv420p"))

    def _close_device(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            except (RuntimeError, OSError) as exc:
                log.warning("Pi camera did not close cleanly: %s", exc)
            self._camera = None
