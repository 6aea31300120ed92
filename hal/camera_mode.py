"""What every camera of the HAL keeps the same way: its fixed size and rate."""

from __future__ import annotations


class CameraMode:
    """The `Camera` protocol's ``width``, ``height`` and ``fps``, read-only."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        self._width, self._height, self._fps = width, height, fps

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> int:
        return self._fps
