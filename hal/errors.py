"""The HAL's exception hierarchy: one root, subclasses that also fit a builtin."""

from __future__ import annotations


class HalError(Exception):
    """Root of every error raised by the hardware abstraction layer."""


class UnknownBackendError(HalError, ValueError):
    """A HAL backend name that no backend answers to."""


class DeviceMissingError(HalError, LookupError):
    """The device is not there (unplugged, not connected, no such sound card)."""


class DeviceFailedError(HalError, OSError):
    """The device is there but does not work (driver error, I/O error, bad data)."""
