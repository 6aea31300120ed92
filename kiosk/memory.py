"""glibc's allocator, asked to keep a long-running box's memory flat.

Every call starts encoder, decoder and ICE threads. glibc gives each new thread its own
malloc arena (up to 8 per core) and keeps the pages that a finished call freed mapped, so
RSS climbs over the first few dozen calls. The daemon caps the arenas, fixes the mmap
threshold and trims the heap after each call.

The threshold (4 MiB) is above every picture-sized buffer of a call (a decoded 640x480
frame is 460 KiB, a picture scaled for the screen about 0.5 MiB): those come from the heap
and are used again. Mapped afresh for each picture, as at glibc's initial 128 KiB, every
page written cost a page fault: measured, 13,000 a second in a call with five participants
and a screen, over a quarter of the screen thread's time. The trim threshold keeps a freed top of
the heap for the next picture rather than handing it back between two; what a call leaves
is handed back when it ends (`release_free_memory`). With another C library all of this is
a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_TRIM_THRESHOLD = -1
ARENAS = 2
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 8 * 1024 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def tune_allocator(
    arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD
) -> bool:
    """Cap the malloc arenas of threads started from now on and fix the mmap and trim
    thresholds; False off glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return all(
        libc.mallopt(option, value)
        for option, value in (
            (_M_ARENA_MAX, arenas),
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
        )
    )


def release_free_memory() -> bool:
    """Free what a finished call left in reference cycles and hand the freed heap pages
    back to the system; True when some pages were released.

    A call leaves its peer connections, tracks and tasks in cycles (coroutine frames,
    callbacks, tracebacks of cancellations). Left to the collector's schedule they wait for
    a full collection, which comes every few dozen calls: measured, 3 MiB more RSS every
    10 calls until it did.
    """
    gc.collect()
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
