"""Test harness ahead of the load it puts on the machine, or that shares the machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

AHEAD = -5  # the harness's niceness (threads and processes it starts inherit it)


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
