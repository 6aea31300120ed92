"""A stand-in for libcamera's Python binding (a C++ extension built only on Raspberry Pi
OS), so that the real picamera2 package imports here: every name picamera2 takes from
the binding exists; the camera manager sees no camera. Only this binding is replaced."""

from __future__ import annotations

import enum
from typing import Any


class _Value:
    """Any libcamera value type: built from whatever picamera2 passes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Value()


class _Namespace:
    """A binding namespace (controls, properties, their draft parts and enums)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Namespace(f"{self._name}.{name}")

    def __repr__(self) -> str:
        return self._name


class ControlType(enum.IntEnum):
    Null = 0
    Bool = 1
    Byte = 2
    Integer32 = 3
    Integer64 = 4
    Float = 5
    String = 6
    Rectangle = 7
    Size = 8
    Point = 9
    Unsigned16 = 10
    Unsigned32 = 11


class Size(_Value):
    def __init__(self, width: int = 0, height: int = 0) -> None:
        super().__init__(width, height)
        self.width, self.height = width, height

    def to_tuple(self) -> tuple[int, int]:
        return (self.width, self.height)


class Rectangle(_Value):
    def __init__(self, x: int = 0, y: int = 0, width: int = 0, height: int = 0) -> None:
        super().__init__(x, y, width, height)
        self.x, self.y, self.width, self.height = x, y, width, height

    def to_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0, **_: Any) -> None:
        self.hflip, self.vflip, self.transpose = bool(hflip), bool(vflip), bool(transpose)

    def _key(self) -> tuple[bool, bool, bool]:
        return (self.hflip, self.vflip, self.transpose)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transform) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class Orientation(enum.Enum):
    Rotate0 = 1
    Rotate0Mirror = 2
    Rotate180 = 3
    Rotate180Mirror = 4
    Rotate90Mirror = 5
    Rotate270 = 6
    Rotate90 = 7
    Rotate270Mirror = 8


class ColorSpace(_Value):
    @staticmethod
    def Sycc() -> ColorSpace:
        return ColorSpace("sycc")

    @staticmethod
    def Smpte170m() -> ColorSpace:
        return ColorSpace("smpte170m")

    @staticmethod
    def Rec709() -> ColorSpace:
        return ColorSpace("rec709")

    @staticmethod
    def Raw() -> ColorSpace:
        return ColorSpace("raw")


class StreamRole(enum.Enum):
    Raw = 0
    StillCapture = 1
    VideoRecording = 2
    Viewfinder = 3


class CameraManager:
    _instance: CameraManager | None = None

    def __init__(self) -> None:
        self.cameras: list[Any] = []  # no camera connected
        self.event_fd = -1

    @classmethod
    def singleton(cls) -> CameraManager:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get_ready_requests(self) -> list[Any]:
        return []


controls = _Namespace("controls")
properties = _Namespace("properties")
formats = _Namespace("formats")


def __getattr__(name: str) -> Any:  # the rest: Camera, Request, FrameBuffer, PixelFormat...
    if name.startswith("__"):
        raise AttributeError(name)
    return type(name, (_Value,), {"Status": _Namespace(f"{name}.Status")})
