"""glibc's allocator, asked to keep a long-running box's memory flat.

Every call starts encoder, decoder and ICE threads. glibc gives each new thread its own
malloc arena (up to 8 per core) and keeps the pages that a finished call freed mapped, so
RSS climbs over the first few dozen calls. The daemon caps the arenas at start and trims
the heap after each call. With another C library both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap the malloc arenas of threads started from now on; False off glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, count))


def release_free_memory() -> bool:
    """Hand freed heap pages back to the system; True when some were released."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
