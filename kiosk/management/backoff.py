"""Reconnect delays: exponential, capped, with full jitter (injectable for tests)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * self.factor**self._attempt)
        self._attempt += 1
        # full jitter: a clinic's boxes, dropped together when a clinic process dies, come
        # back spread over the whole interval, not in lockstep
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self._attempt = 0
