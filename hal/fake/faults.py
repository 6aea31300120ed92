"""Fault injection shared by the fake peripherals."""

from __future__ import annotations

from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.health import Health


class Faults:
    """A fake device's health, drivable by tests: ``unplug()``, ``replug()``, ``fail()``."""

    def __init__(self, device: str, initial: str | None = None) -> None:
        self._device = device
        self._health = Health.ok()
        if initial == "missing":
            self.unplug()
        elif initial == "error":
            self.fail("injected fault")
        elif initial is not None:
            raise ValueError(f"unknown fault {initial!r} for {device}; choices: missing, error")

    @property
    def health(self) -> Health:
        return self._health

    def unplug(self) -> None:
        self._health = Health.missing(f"{self._device} unplugged")

    def replug(self) -> None:
        self._health = Health.ok()

    def fail(self, reason: str) -> None:
        self._health = Health.error(f"{self._device}: {reason}")

    def check(self) -> None:
        """Raise the error the current health amounts to."""
        if self._health.state == "missing":
            raise DeviceMissingError(self._health.reason)
        if self._health.state == "error":
            raise DeviceFailedError(self._health.reason)

    def raise_(self, exc: HalError) -> None:
        self._health = Health.of_exception(exc)
        raise exc
