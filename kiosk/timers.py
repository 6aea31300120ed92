"""Named one-shot timers on the event loop, for the commands of the state machine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Timers:
    """At most one pending timer per name; starting a name again restarts it."""

    def __init__(self, fire: Callable[[str], None]) -> None:
        self._fire = fire
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, name: str, seconds: float) -> None:
        self.cancel(name)
        loop = asyncio.get_running_loop()
        self._handles[name] = loop.call_later(seconds, self._expired, name)

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for name in list(self._handles):
            self.cancel(name)

    def pending(self) -> set[str]:
        return set(self._handles)

    def _expired(self, name: str) -> None:
        del self._handles[name]
        self._fire(name)
