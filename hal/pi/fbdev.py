"""The screen through a plain Linux framebuffer (``/dev/fbN``, mmap): the fallback where
KMS is not to be had. Its geometry comes from sysfs; 32 bits (XRGB8888) and 16 bits
(RGB565) per pixel are written."""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hal.display import OpenedDisplay
from hal.errors import DeviceFailedError, DeviceMissingError
from hal.interfaces import DisplayMode
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hal.interfaces import Canvas
else:
    np = lazy_module("numpy")

SYSFS_GRAPHICS = Path("/sys/class/graphics")
REFRESH_HZ = 60.0  # fbdev does not say; the compositor caps itself at 30 anyway


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise DeviceFailedError(f"cannot read {path}: {exc.strerror}") from exc


def to_rgb565(frame: Canvas) -> npt.NDArray[np.uint16]:
    """XRGB8888 -> RGB565 (little-endian), what a 16-bit framebuffer holds."""
    b, g, r = (frame[..., i].astype(np.uint16) for i in range(3))
    packed = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
    return packed.astype(np.uint16)


class FbDisplay(OpenedDisplay):
    def __init__(self, device: Path, sysfs: Path = SYSFS_GRAPHICS) -> None:
        super().__init__(f"{device} not opened yet")
        self._device = device
        self._sysfs = sysfs / device.name
        self._map: mmap.mmap | None = None
        self._pixels: npt.NDArray[np.uint8] | None = None  # rows x stride bytes
        self._bits = 32

    def _open(self) -> None:
        if not self._device.exists():
            raise DeviceMissingError(f"no framebuffer {self._device}")
        width, height = (int(n) for n in _read(self._sysfs / "virtual_size").split(","))
        self._bits = int(_read(self._sysfs / "bits_per_pixel"))
        stride = int(_read(self._sysfs / "stride"))
        if self._bits not in (16, 32):
            raise DeviceFailedError(f"{self._device}: {self._bits} bits per pixel (16 or 32 work)")
        try:
            fd = os.open(self._device, os.O_RDWR)
        except OSError as exc:
            raise DeviceFailedError(f"cannot open {self._device}: {exc.strerror}") from exc
        try:
            self._map = mmap.mmap(fd, stride * height)
        except (OSError, ValueError) as exc:
            raise DeviceFailedError(f"cannot map {self._device}: {exc}") from exc
        finally:
            os.close(fd)
        self._pixels = np.frombuffer(self._map, dtype=np.uint8).reshape(height, stride)
        self._mode = DisplayMode(width, height, REFRESH_HZ)

    def show(self, frame: Canvas) -> None:
        pixels, mode = self._pixels, self._mode
        if pixels is None or mode is None:
            raise DeviceMissingError(self._health.reason or f"{self._device} is not open")
        rows = pixels[:, : mode.width * self._bits // 8]
        if self._bits == 32:
            rows[:] = frame.reshape(mode.height, -1)
        else:
            rows[:] = to_rgb565(frame).view(np.uint8).reshape(mode.height, -1)

    async def stop(self) -> None:
        self._pixels = None
        if self._map is not None:
            self._map.close()
            self._map = None
