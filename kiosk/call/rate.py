"""The shared encoder's bitrate, from what every peer's receiver says (REMB).

A receiver's estimate (REMB) follows what it receives: aiortc's stays within about 10 %
above the incoming rate, so a sender that only ever follows it stays wherever it started,
even on an idle gigabit LAN. So REMB is read as a congestion signal, against what is
really sent (a still picture sends far less than its target): when any peer's estimate
falls below that, follow it down at once; while every peer's estimate is at or above it,
step the target up by half again every couple of seconds, up to the admin's maximum.
Each change reopens the codec (a keyframe), hence the pacing. A receiver's first seconds
of estimates are its own warm-up and are not listened to.

A receiver's estimate trails a rise in what is sent (a step up, a bigger picture) by
seconds: it grows by 8 % a second at most. So an estimate is judged against the least
sent over the last few seconds, not against a rise it has not caught up with yet:
otherwise every step up reads as congestion and the rate see-saws instead of climbing.

Loss is the guard while a step is judged so kindly, and the faster signal anyway: a
receiver asks again (NACK) for each packet it misses within a round trip. Above a tenth
of the packets lost the target drops at once by half the loss fraction, as WebRTC's own
controller does; from a twentieth it does not climb.
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
CATCH_UP_S = 4.0  # how long a receiver's estimate takes to follow a rise
LOSS_HIGH = 0.10  # over this fraction of packets lost: congested
LOSS_LOW = 0.05  # over this: hold (a lossy radio link loses a few percent anyway)
RTP_PAYLOAD = 1200  # bytes of media in an RTP packet (aiortc packetizes at 1300)


class RateControl:
    def __init__(self, max_bitrate: int, start: int | None = None) -> None:
        self.max_bitrate = max(MIN_BITRATE, max_bitrate)
        self.bitrate = min(self.max_bitrate, start or self.max_bitrate)
        self._changed_at = float("-inf")
        self.congested = False  # the last change was down
        self._recent: deque[tuple[float, float]] = deque()  # (time, sent rate)

    def update(self, now: float, estimates: Iterable[int], sent: float, loss: float = 0.0) -> int:
        """The bitrate to encode at now, given each peer's latest estimate, the rate
        really sent over the last second (bits/s) and the worst peer's loss fraction."""
        known = list(estimates)
        since = now - self._changed_at
        sending = min(sent, self.bitrate) if sent > 0 else self.bitrate
        if loss > LOSS_HIGH and since >= DOWN_INTERVAL_S:
            self._down(int(sending * (1 - loss / 2)), now)
            return self.bitrate
        if not known:
            return self.bitrate
        lowest = min(known)
        judged = self._least_recent(now, sending)
        if lowest < DOWN_BELOW * judged and since >= DOWN_INTERVAL_S:
            self._down(lowest, now)
        elif (
            lowest >= UP_AT * sending
            and loss <= LOSS_LOW
            and since >= UP_INTERVAL_S
            and self.bitrate < self.max_bitrate
        ):
            self._set(min(self.max_bitrate, int(self.bitrate * UP_FACTOR)), now)
            self.congested = False
        return self.bitrate

    def _least_recent(self, now: float, sending: float) -> float:
        """The least sent over the last CATCH_UP_S, now included."""
        self._recent.append((now, sending))
        while now - self._recent[0][0] > CATCH_UP_S:
            self._recent.popleft()
        return min(rate for _, rate in self._recent)

    def _down(self, bitrate: float, now: float) -> None:
        self._recent.clear()  # after a cut, what is sent now is the measure
        self._set(max(MIN_BITRATE, int(bitrate)), now)
        self.congested = True

    def _set(self, bitrate: int, now: float) -> None:
        self.bitrate = int(bitrate)
        self._changed_at = now

    @property
    def at_floor(self) -> bool:
        """Sending the least this box sends, and still told to go lower."""
        return self.congested and self.bitrate <= MIN_BITRATE


class SentRate:
    """Bits per second really encoded, and RTP packets made of them, over the last second."""

    def __init__(self, window_s: float = 1.0) -> None:
        self._window = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0
        self._packets = 0

    def add(self, now: float, size: int) -> None:
        self._samples.append((now, size))
        self._bytes += size
        self._packets += -(-size // RTP_PAYLOAD)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        return self._bytes * 8 / self._window

    def packets(self, now: float) -> int:
        self._trim(now)
        return self._packets

    def _trim(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self._window:
            size = self._samples.popleft()[1]
            self._bytes -= size
            self._packets -= -(-size // RTP_PAYLOAD)


class LossCount:
    """The packets a receiver asked for again (NACK) over the last second, each once: a
    receiver repeats every packet it still misses in each NACK it sends."""

    def __init__(self, window_s: float = 1.0) -> None:
        self._window = window_s
        self._asked: dict[int, float] = {}

    def add(self, now: float, sequence_numbers: Iterable[int]) -> None:
        for number in sequence_numbers:
            self._asked.setdefault(number, now)

    def count(self, now: float) -> int:
        self._asked = {n: t for n, t in self._asked.items() if now - t <= self._window}
        return len(self._asked)
