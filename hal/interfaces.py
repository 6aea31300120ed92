"""What the daemon may ask of hardware: one Protocol per kind of peripheral.

Every backend (fake, pi) builds objects that satisfy these. Media methods return PyAV
frames with real timestamps (``pts`` plus ``time_base``), which is what aiortc tracks
hand around; :mod:`hal.tracks` wraps them as aiortc ``MediaStreamTrack``s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import av

from hal.health import Health

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from av.stream import Stream

    Canvas = npt.NDArray[np.uint8]  # rows x columns x 4 bytes B, G, R, X

    Packet = av.Packet[Stream]  # encoded by a bare codec context: no container stream
else:
    Packet = av.Packet

AUDIO_SAMPLE_RATE = 48_000
AUDIO_FRAME_SAMPLES = 960  # 20 ms at 48 kHz: one Opus frame
VIDEO_CLOCK_RATE = 90_000


@runtime_checkable
class Device(Protocol):
    """Lifecycle and health shared by every peripheral."""

    @property
    def health(self) -> Health: ...

    async def start(self) -> None:
        """Open the device; raises DeviceMissingError or DeviceFailedError."""

    async def stop(self) -> None:
        """Release the device; safe to call more than once, and after a failed start."""


class Camera(Device, Protocol):
    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> int: ...

    async def read(self) -> av.VideoFrame:
        """The next frame, paced by the camera, ``pts`` in 1/90000 s since start.

        Raises DeviceMissingError when the camera went away, DeviceFailedError on a fault.
        """

    def h264(self) -> H264Stream | None:
        """The camera's own H.264 encoder (the Pi 4's camera path), not yet started; None
        where there is none, and the call engine encodes the frames of ``read``. Cheap:
        nothing opens until ``start``."""


class H264Stream(Protocol):
    """H.264 encoded by the camera's hardware at the camera's size and rate: baseline
    profile, Annex B access units, SPS and PPS in front of every keyframe. ``start`` and
    ``stop`` may alternate (camera off and on again)."""

    async def start(self, bitrate: int) -> None:
        """Start encoding; raises DeviceMissingError or DeviceFailedError."""

    async def read(self) -> Packet:
        """The next access unit, the first a keyframe; ``is_keyframe`` set. Raises
        DeviceMissingError when the camera went away, DeviceFailedError on a fault."""

    def request_keyframe(self) -> None:
        """Make the next access unit a keyframe."""

    def set_bitrate(self, bitrate: int) -> None:
        """Aim at ``bitrate`` bits/s from the next access units on."""

    async def picture(self) -> av.VideoFrame | None:
        """A picture of what is being encoded, for the box's own screen (at the caller's
        pace, not the encoder's); None before the first. Raises as ``read`` does."""

    async def stop(self) -> None:
        """Stop encoding; safe to call more than once."""


class Microphone(Device, Protocol):
    async def read(self) -> av.AudioFrame:
        """The next 20 ms of mono s16 audio at 48 kHz, ``pts`` counted in samples."""


class Speaker(Device, Protocol):
    async def play(self, frame: av.AudioFrame) -> None:
        """Queue a frame of any layout or rate for playback."""


class ButtonKind(StrEnum):
    PRESS = "press"
    RELEASE = "release"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    number: int
    kind: ButtonKind
    time: float  # time.monotonic() when the edge was seen


class Buttons(Device, Protocol):
    @property
    def numbers(self) -> frozenset[int]: ...

    def __aiter__(self) -> AsyncIterator[ButtonEvent]:
        """Events until stop(); one consumer."""

    async def press(self, number: int, hold: bool = False) -> None:
        """Press and release button ``number`` as if a finger did (for testers and
        remote testing). Raises KeyError for a number that has no button."""


class LedKind(StrEnum):
    OFF = "off"
    ON = "on"
    BLINK = "blink"
    PULSE = "pulse"


@dataclass(frozen=True, slots=True)
class LedMode:
    kind: LedKind
    rate_hz: float | None = None  # cycles a second, for blink and pulse

    def __str__(self) -> str:
        return self.kind.value if self.rate_hz is None else f"{self.kind.value}({self.rate_hz:g})"


OFF = LedMode(LedKind.OFF)
ON = LedMode(LedKind.ON)


def blink(rate_hz: float) -> LedMode:
    return LedMode(LedKind.BLINK, rate_hz)


def pulse(rate_hz: float) -> LedMode:
    return LedMode(LedKind.PULSE, rate_hz)


@dataclass(frozen=True, slots=True)
class LedChange:
    time: float  # time.monotonic()
    name: str
    mode: LedMode


class Leds(Device, Protocol):
    @property
    def names(self) -> frozenset[str]: ...

    def set(self, name: str, mode: LedMode) -> None:
        """Raises KeyError for an LED that does not exist."""

    def state(self) -> Mapping[str, LedMode]: ...

    @property
    def history(self) -> list[LedChange]:
        """Every change since start, oldest first (bounded)."""


@dataclass(frozen=True, slots=True)
class DisplayMode:
    width: int
    height: int
    refresh_hz: float = 60.0

    def __str__(self) -> str:
        return f"{self.width}x{self.height}@{self.refresh_hz:g}"


class Display(Device, Protocol):
    """The room's screen. A frame is a ``numpy.uint8`` array of ``mode.height`` rows of
    ``mode.width`` pixels of 4 bytes B, G, R, X (DRM's XRGB8888 in memory)."""

    @property
    def mode(self) -> DisplayMode | None:
        """Size and refresh while the screen works; None when it is missing or broken."""

    def free_at(self) -> float:
        """The ``time.monotonic()`` from which `show` does not wait for the frame before
        to be lit (a page flip pending); in the past when it would not wait now."""

    def buffers(self) -> Sequence[Canvas]:
        """The screen's own frames, which it lights without a copy: draw into them in
        turn, from the second (the first is on the screen when it opens), and hand each to
        `show`; the one after the last shown is never on the screen or waiting for its
        flip. Empty when `show` copies whatever it is given. Not to be drawn into any more
        once `show` has failed: the screen may be opened again with new ones."""

    def show(self, frame: Canvas) -> None:
        """Put ``frame`` on the screen (blocks until it is there, at most a refresh).
        Raises DeviceMissingError when the screen went away, DeviceFailedError on a fault."""
