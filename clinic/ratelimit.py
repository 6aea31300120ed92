"""Failed attempts per client address in a sliding window (in process memory)."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class FailureLimiter:
    """At most ``limit`` failures per ``window_s`` per key; past that, refuse."""

    def __init__(self, limit: int = 5, window_s: float = 60.0) -> None:
        self._limit = limit
        self._window = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures[key]
        cutoff = time.monotonic() - self._window
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]  # keep memory bounded by active offenders
            return deque()
        return failures

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self._limit

    def fail(self, key: str) -> None:
        self._recent(key)
        self._failures[key].append(time.monotonic())
