"""Test harness ahead of the load it puts on the machine, or that shares the machine."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

AHEAD = -5  # the harness's niceness (threads and processes it starts inherit it)
UNIT = Path(__file__).resolve().parent.parent / "systemd" / "kiosk.service"


def unit_niceness() -> int:
    """The daemon's niceness under its systemd unit (``Nice=``; 0 without one)."""
    found = re.search(r"^Nice=(-?\d+)$", UNIT.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def as_under_its_unit() -> list[str]:
    """A prefix that runs the daemon at its unit's niceness (as root only; otherwise
    `nice` says it cannot and runs it at this thread's). `nice -n` is relative."""
    return ["nice", "-n", str(unit_niceness() - os.getpriority(os.PRIO_PROCESS, 0))]


@contextlib.contextmanager
def ahead() -> Iterator[None]:
    """This thread (a test's event loop) ahead of normal-priority work; Linux's niceness
    is per thread. As root only; otherwise at normal priority."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, AHEAD)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)  # lowering one's priority is allowed
