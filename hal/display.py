"""What every display backend shares: the mode a setting names, and the box without one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.health import Health, HealthState
from hal.interfaces import DisplayMode

if TYPE_CHECKING:
    from hal.interfaces import Canvas

_MODE = re.compile(r"(\d{2,5})x(\d{2,5})(?:@(\d{1,3}(?:\.\d+)?))?")

NO_DISPLAY = "none"


def parse_mode(text: str) -> DisplayMode:
    """``1280x720@30`` or ``1920x1080`` (60 Hz); ValueError naming the expected form."""
    found = _MODE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"display mode {text!r}: expected WIDTHxHEIGHT or WIDTHxHEIGHT@HZ")
    width, height = int(found[1]), int(found[2])
    refresh = float(found[3]) if found[3] else 60.0
    if not (16 <= width <= 7680 and 16 <= height <= 4320 and 1 <= refresh <= 240):
        raise ValueError(f"display mode {text!r} is out of range")
    return DisplayMode(width, height, refresh)


class OpenedDisplay:
    """What the real screens share: ``start`` opens (``_open``), and health and mode
    follow how that went; a driver's own exception is an ``error`` with its words."""

    def __init__(self, unopened: str) -> None:
        self._health = Health.missing(unopened)
        self._mode: DisplayMode | None = None

    @property
    def health(self) -> Health:
        return self._health

    @property
    def mode(self) -> DisplayMode | None:
        return self._mode if self._health.state is HealthState.OK else None

    async def start(self) -> None:
        await self.stop()
        try:
            self._open()
        except HalError as exc:
            self._health = Health.of_exception(exc)
            await self.stop()
            raise
        except Exception as exc:  # pykms raises RuntimeError and friends from C++
            self._health = Health.error(f"{type(self).__name__}: {type(exc).__name__}: {exc}")
            await self.stop()
            raise DeviceFailedError(self._health.reason) from exc
        self._health = Health.ok()

    def free_at(self) -> float:
        return 0.0  # it never waits (a screen without page flips)

    def buffers(self) -> Sequence[Canvas]:
        return ()  # it copies each frame it is shown

    def _open(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class NoDisplay:
    """A box without a screen: ``missing`` for good, and nothing is ever composed."""

    def __init__(self, reason: str = "no display on this box") -> None:
        self._health = Health.missing(reason)

    @property
    def health(self) -> Health:
        return self._health

    @property
    def mode(self) -> DisplayMode | None:
        return None

    async def start(self) -> None:
        raise DeviceMissingError(self._health.reason)

    async def stop(self) -> None:
        return None

    def free_at(self) -> float:
        return 0.0

    def buffers(self) -> Sequence[Canvas]:
        return ()

    def show(self, frame: Canvas) -> None:
        raise DeviceMissingError(self._health.reason)
