"""Health of one peripheral, as shown to the admin and on the error LED."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Health:
    state: HealthState
    reason: str | None = None

    @classmethod
    def ok(cls) -> Health:
        return cls(HealthState.OK)

    @classmethod
    def missing(cls, reason: str) -> Health:
        return cls(HealthState.MISSING, reason)

    @classmethod
    def error(cls, reason: str) -> Health:
        return cls(HealthState.ERROR, reason)

    @classmethod
    def of_exception(cls, exc: BaseException) -> Health:
        """The health a failure to open or read a device amounts to."""
        from hal.errors import DeviceMissingError

        if isinstance(exc, DeviceMissingError):
            return cls.missing(str(exc))
        return cls.error(str(exc) or type(exc).__name__)
