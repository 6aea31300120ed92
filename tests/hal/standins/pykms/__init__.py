"""A stand-in for kms++'s Python binding (Raspberry Pi OS's python3-kms++, a C++
extension), which picamera2's DRM preview imports: its pixel format names exist, and no
display is ever opened (the box draws no preview)."""

from __future__ import annotations

import enum


class PixelFormat(enum.Enum):
    RGB888 = "RG24"
    BGR888 = "BG24"
    XRGB8888 = "XR24"
    XBGR8888 = "XB24"
    YUYV = "YUYV"
    YVYU = "YVYU"
    UYVY = "UYVY"
    VYUY = "VYUY"
    YUV420 = "YU12"
    YVU420 = "YV12"
    NV12 = "NV12"
    NV21 = "NV21"
    RGB565 = "RG16"


# ---- the display's side: what `hal/pi/kms.py` uses, recording what it is asked -------
# A test sets SCREEN before opening and reads Card.last afterwards.

import contextlib  # noqa: E402
import os  # noqa: E402

SCREEN: dict[str, object] = {"connected": True, "modes": [(1920, 1080, 60), (1280, 720, 60)]}


class DrmEventType(enum.Enum):
    VBLANK = 1
    FLIP_COMPLETE = 2


class Mode:
    def __init__(self, width: int, height: int, refresh: int) -> None:
        self.hdisplay, self.vdisplay, self.vrefresh = width, height, refresh


class Event:
    def __init__(self, data: object) -> None:
        self.type = DrmEventType.FLIP_COMPLETE
        self.data = data


class DumbFramebuffer:
    def __init__(self, card: Card, width: int, height: int, fourcc: str) -> None:
        assert fourcc == "XR24", fourcc
        self.width, self.height = width, height
        self._stride = width * 4 + 64  # padded rows, as real drivers may
        self._memory = bytearray(self._stride * height)
        card.framebuffers.append(self)

    def stride(self, plane: int) -> int:
        return self._stride

    def map(self, plane: int) -> bytearray:
        return self._memory

    def pixels(self) -> bytes:
        """What this buffer holds, padding taken off each row."""
        rows = [
            self._memory[y * self._stride : y * self._stride + self.width * 4]
            for y in range(self.height)
        ]
        return b"".join(rows)


class Connector:
    def connected(self) -> bool:
        return bool(SCREEN["connected"])

    def get_default_mode(self) -> Mode:
        return Mode(*SCREEN["modes"][0])  # type: ignore[index]

    def get_mode(self, width: int, height: int, refresh: int, interlaced: bool) -> Mode:
        for mode in SCREEN["modes"]:  # type: ignore[attr-defined]
            if tuple(mode) == (width, height, refresh):
                return Mode(*mode)
        raise RuntimeError("mode not found")


class Crtc:
    def __init__(self, card: Card) -> None:
        self._card = card

    def set_mode(self, connector: Connector, framebuffer: DumbFramebuffer, mode: Mode) -> None:
        self._card.modesets.append((framebuffer, (mode.hdisplay, mode.vdisplay, mode.vrefresh)))

    def page_flip(self, framebuffer: DumbFramebuffer, data: object) -> None:
        # the flip is on the screen at once: what it shows is recorded, its event is due
        self._card.flips.append((framebuffer, framebuffer.pixels()))
        if self._card.stuck:  # the screen went away: no flip ever completes
            return
        os.write(self._card._write, b"f")
        self._card.pending.append(Event(data))


class Card:
    last: Card | None = None

    def __init__(self) -> None:
        self.fd, self._write = os.pipe()
        self.framebuffers: list[DumbFramebuffer] = []
        self.modesets: list[tuple[DumbFramebuffer, tuple[int, int, int]]] = []
        self.flips: list[tuple[DumbFramebuffer, bytes]] = []
        self.pending: list[Event] = []
        self.stuck = False
        Card.last = self

    def __del__(self) -> None:
        for fd in (self.fd, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def read_events(self) -> list[Event]:
        os.read(self.fd, 64)
        events, self.pending = self.pending, []
        return events


class ResourceManager:
    def __init__(self, card: Card) -> None:
        self._card = card

    def reserve_connector(self, name: str = "") -> Connector | None:
        return Connector() if name in ("", "HDMI-A-1") else None

    def reserve_crtc(self, connector: Connector) -> Crtc:
        return Crtc(self._card)
