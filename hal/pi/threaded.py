"""A blocking device read in its own thread, handed to the event loop.

Like aiortc's MediaPlayer: the thread does what blocks (ALSA, V4L2, libcamera), the loop
only awaits. The hand-over holds at most ``depth`` items; when nobody reads, the thread
waits for room instead of reading, so an idle device costs nothing and the device's own
buffer is what overflows, as it would for any slow reader.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
JOIN_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class _Failed:
    exc: Exception


class ThreadedSource(Generic[T]):
    def __init__(self, name: str, read: Callable[[], T], depth: int = 2) -> None:
        self._read = read
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[T | _Failed] = asyncio.Queue()
        self._slots = threading.Semaphore(depth)
        self._stopping = threading.Event()
        # True when the last read had to wait for the reader (the device ran unattended)
        self.waited = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.waited = not self._slots.acquire(blocking=False)
            if self.waited and not self._slots.acquire(timeout=0.1):
                continue
            try:
                item: T | _Failed = self._read()
            except Exception as exc:
                item = _Failed(exc)
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
            except RuntimeError:  # the loop closed under us
                return
            if isinstance(item, _Failed):
                return

    async def get(self) -> T:
        """The next item; re-raises what the read raised (after which the thread is gone)."""
        item = await self._queue.get()
        self._slots.release()
        if isinstance(item, _Failed):
            raise item.exc
        return item

    def stop(self) -> None:
        """Stop reading and wait for the thread (a read blocks a frame's time at most)."""
        self._stopping.set()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("%s did not stop within %.0f s", self._thread.name, JOIN_TIMEOUT_S)
