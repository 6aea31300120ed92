"""The shared encoder's bitrate, from what every peer's receiver says (REMB).

A receiver's estimate (REMB) follows what it receives: aiortc's stays within about 10 %
above the incoming rate, so a sender that only ever follows it stays wherever it started,
even on an idle gigabit LAN. So REMB is read as a congestion signal, against what is
really sent (a still picture sends far less than its target): when any peer's estimate
falls below that, follow it down at once; while every peer's estimate is at or above it,
step the target up by half again every couple of seconds, up to the admin's maximum.
Each change reopens the codec (a keyframe), hence the pacing. A receiver's first seconds
of estimates are its own warm-up and are not listened to.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

MIN_BITRATE = 150_000
DOWN_BELOW = 0.9  # a peer's estimate under 90 % of the sent rate: congested
UP_AT = 1.0  # every peer's estimate at least the sent rate: room to probe
UP_FACTOR = 1.5
UP_INTERVAL_S = 2.0
DOWN_INTERVAL_S = 0.5


class RateControl:
    def __init__(self, max_bitrate: int, start: int | None = None) -> None:
        self.max_bitrate = max(MIN_BITRATE, max_bitrate)
        self.bitrate = min(self.max_bitrate, start or self.max_bitrate)
        self._changed_at = float("-inf")
        self.congested = False  # the last change was down

    def update(self, now: float, estimates: Iterable[int], sent: float) -> int:
        """The bitrate to encode at now, given each peer's latest estimate and the rate
        really sent over the last second (bits/s)."""
        known = list(estimates)
        if not known:
            return self.bitrate
        lowest = min(known)
        since = now - self._changed_at
        sending = min(sent, self.bitrate) if sent > 0 else self.bitrate
        if lowest < DOWN_BELOW * sending and since >= DOWN_INTERVAL_S:
            self._set(max(MIN_BITRATE, lowest), now)
            self.congested = True
        elif (
            lowest >= UP_AT * sending and since >= UP_INTERVAL_S and self.bitrate < self.max_bitrate
        ):
            self._set(min(self.max_bitrate, int(self.bitrate * UP_FACTOR)), now)
            self.congested = False
        return self.bitrate

    def _set(self, bitrate: int, now: float) -> None:
        self.bitrate = int(bitrate)
        self._changed_at = now

    @property
    def at_floor(self) -> bool:
        """Sending the least this box sends, and still told to go lower."""
        return self.congested and self.bitrate <= MIN_BITRATE


class SentRate:
    """Bits per second really encoded, over the last second."""

    def __init__(self, window_s: float = 1.0) -> None:
        self._window = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0

    def add(self, now: float, size: int) -> None:
        self._samples.append((now, size))
        self._bytes += size
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        return self._bytes * 8 / self._window

    def _trim(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self._window:
            self._bytes -= self._samples.popleft()[1]
