"""The daemon's exception hierarchy: one root, subclasses that also fit a builtin."""

from __future__ import annotations


class KioskError(Exception):
    """Root of every error the kiosk daemon raises on purpose."""


class SettingsError(KioskError, ValueError):
    """Settings that cannot be used; ``problems`` lists every one with its origin."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


class InvalidTransitionError(KioskError, RuntimeError):
    """An event that the call state machine does not accept in its current state."""


class ControlError(KioskError, ConnectionError):
    """The local control socket could not be reached or answered with an error."""


class ControlBusyError(ControlError):
    """Another daemon already listens on the control socket."""
