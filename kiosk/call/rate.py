"""The shared encoder's bitrate, from what every peer's receiver says.

Two signals say a link is congested, as in WebRTC's own controller (GCC):
- a receiver's estimate (REMB) *falls*: its delay detector saw the queue grow and it
  says 85 % of what arrives. Its level alone says little: it climbs at most 8 % a
  second behind what it receives and never falls for want of traffic, so an estimate
  below the sent rate that holds or rises is a receiver catching up (after a step up, or
  a link just freed), not congestion. Judged by its level, every step up read as
  congestion and a freed link took 8-18 s to recover;
- loss: a receiver asks again (NACK) for each packet it misses. Above a tenth of the
  packets the target drops by half the loss fraction (15 % at least: the queue must
  drain, and any cut costs a keyframe), at most once a second (the next second's loss is
  the measure of the cut); from a twentieth it does not climb.

Otherwise the target climbs by half again every couple of seconds, up to the admin's
maximum; each change reopens the codec (a keyframe), hence the pacing. Congestion just
after a step up goes back below the rate before the step at once (so that the queue
drains), and the rate where the cuts stop is the link's known good rate: the climb goes
straight back to it, stops for a few seconds, then probes past it a quarter at a step,
each once every receiver's estimate has come up to the target (estimates grow on a
free link and stay put on a thin one). Half again past it, the link has changed (freed):
the climb is fast again. Without the known good rate, straight back past it, a thin link
saw a loss burst and a frozen picture every few seconds; probing past it blindly, every
ten seconds or so.

A receiver's first seconds of estimates are its own warm-up and are not listened to, and
its first estimate after them is no fall, however far below the others (a newcomer's, or
one whose video resumes: an idle estimator starts low). At the least bitrate the climb
does not wait for the estimates: below it there is nothing to go to, and an estimate
that trails there kept a freed link at the least for 20 s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

MIN_BITRATE = 150_000  # the default of the admin's video.min_bitrate_kbps
DOWN_BELOW = 0.9  # a fallen estimate under 90 % of the sent rate: congested
FELL_BELOW = 0.95  # under 95 % of its highest since the last cut: the estimate fell
UP_FACTOR = 1.5
PROBE_FACTOR = 1.25  # past the known good rate
PROBED_PAST = 1.5  # this far past it with no congestion (2 probes): the link has changed
UP_INTERVAL_S = 2.0
DOWN_INTERVAL_S = 0.5
LOSS_INTERVAL_S = 1.0
HOLD_S = 2.0  # at the known good rate before probing past it
FLOOR_SETTLE_S = 2.0  # at the least bitrate, for the queue to drain, before it is too much
DRAIN = 0.8  # of the rate before the step up that congested the link
LOSS_CUT_MAX = 0.85  # a cut for loss is at least 15 %: less is not worth a keyframe
LOSS_HIGH = 0.10  # over this fraction of packets lost: congested
LOSS_LOW = 0.05  # over this: hold (a lossy radio link loses a few percent anyway)
RTP_PAYLOAD = 1200  # bytes of media in an RTP packet (aiortc packetizes at 1300)


@dataclass(frozen=True, slots=True)
class _Good:
    """Where the last cut left the rate (where the loss stopped, so far), and when."""

    bitrate: int
    at: float


class RateControl:
    def __init__(
        self, max_bitrate: int, start: int | None = None, min_bitrate: int = MIN_BITRATE
    ) -> None:
        self.min_bitrate = min_bitrate
        self.max_bitrate = max(min_bitrate, max_bitrate)
        self.bitrate = min(self.max_bitrate, start or self.max_bitrate)
        self._changed_at = float("-inf")
        self._lost_at = float("-inf")
        self._before_step = self.bitrate  # the rate before the last step up
        self.congested = False  # the last change was down
        self._peak: int | None = None  # the highest lowest estimate since the last cut
        self._lowest: int | None = None
        self._good: _Good | None = None
        self._floor_since: float | None = None  # when the rate came down to the least
        self._starved = False
        self.reason = "start"  # why the last change, for the log

    def update(self, now: float, estimates: Iterable[int], sent: float, loss: float = 0.0) -> int:
        """The bitrate to encode at now, given each peer's latest estimate, the rate
        really sent over the last second (bits/s) and the worst peer's loss fraction."""
        lowest = min(estimates, default=None)
        since = now - self._changed_at
        sending = min(sent, self.bitrate) if sent > 0 else self.bitrate
        fell = lowest is not None and self._peak is not None and lowest < FELL_BELOW * self._peak
        if lowest is not None:
            self._peak = max(self._peak or 0, lowest)
        self._lowest = lowest
        if loss > LOSS_HIGH and now - self._lost_at >= LOSS_INTERVAL_S:
            cut = min(LOSS_CUT_MAX, 1 - loss / 2)
            self._down(sending * cut, now, f"{loss:.0%} of packets lost")
        elif fell and lowest is not None and lowest < DOWN_BELOW * sending:
            if since >= DOWN_INTERVAL_S:
                self._down(lowest, now, f"a receiver's estimate fell to {lowest // 1000} kbit/s")
        elif loss <= LOSS_LOW and since >= UP_INTERVAL_S and self.bitrate < self.max_bitrate:
            self._climb(now)
        return self.bitrate

    def new_receiver(self) -> None:
        """A receiver's estimate joins the others (a newcomer's, or a resumed one's): its
        level is no fall, even below theirs."""
        self._peak = None

    def _climb(self, now: float) -> None:
        good = self._good
        up = int(self.bitrate * UP_FACTOR)
        if good is not None and self.bitrate >= good.bitrate:
            # past the known good rate only as far as the receivers' estimates have come
            # (they grow 8 % a second on a free link and stay put on one still thin:
            # past them is where the queue fills and a burst of loss freezes the picture)
            # (at the least bitrate an estimate below it says nothing: there is no lower)
            behind = self._lowest is None or self._lowest < self.bitrate
            if now - good.at < HOLD_S or (behind and self.bitrate > self.min_bitrate):
                return
            if self.bitrate >= PROBED_PAST * good.bitrate:  # the link has changed (freed)
                self._good = good = None
        if good is None or up <= good.bitrate:
            wanted, self.reason = up, "no loss, no estimate falling"
        elif self.bitrate < good.bitrate:
            wanted, self.reason = good.bitrate, "back to the rate the link last carried"
        else:
            wanted = int(self.bitrate * PROBE_FACTOR)
            self.reason = f"probing past the {good.bitrate // 1000} kbit/s the link last carried"
        self._before_step = self.bitrate
        self._set(min(self.max_bitrate, wanted), now)
        self.congested = self._starved = False

    def _down(self, bitrate: float, now: float, reason: str) -> None:
        if not self.congested and now - self._changed_at < 2 * UP_INTERVAL_S:
            # the first cut, just after a step up: below the rate before it, which may only
            # have been filling the queue slowly, so that the queue drains (and a
            # keyframe after it gets through)
            bitrate = min(bitrate, DRAIN * self._before_step)
        self.reason = reason
        self._lost_at = now  # the next second's loss is the measure of this cut
        if self._floor_since is not None and now - self._floor_since >= FLOOR_SETTLE_S:
            self._starved = True  # the least bitrate, settled, and still too much
        self._set(max(self.min_bitrate, int(bitrate)), now)
        self._good = _Good(self.bitrate, now)  # where the loss stops, so far
        self._peak = self._lowest  # a fall from here on is news
        self.congested = True

    def _set(self, bitrate: int, now: float) -> None:
        self.bitrate = int(bitrate)
        self._changed_at = now
        if self.bitrate > self.min_bitrate:
            self._floor_since = None
        elif self._floor_since is None:
            self._floor_since = now

    @property
    def at_floor(self) -> bool:
        """Sending the least this box sends for a while, and still told to go lower (not
        just once on the way down: a failed probe's cut can land on the floor)."""
        return self._starved


class SentRate:
    """Bits per second really encoded over the last second, and the RTP packets they made."""

    def __init__(self, window_s: float = 1.0) -> None:
        self._window = window_s
        self._recent = _Window()  # the last window
        self._before = _Window()  # the one before it

    def add(self, now: float, size: int) -> None:
        self._recent.add(now, size)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        return self._recent.bytes * 8 / self._window

    def packets(self, now: float) -> int:
        """The packets of the last window, or of the one before if that had more: what a
        receiver asks again for now was sent up to a round trip and a queue ago, maybe at
        the rate before a cut."""
        self._trim(now)
        return max(self._recent.packets, self._before.packets)

    def _trim(self, now: float) -> None:
        self._before.drop_older(now - 2 * self._window, None)
        self._recent.drop_older(now - self._window, self._before)


class _Window:
    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()
        self.bytes = 0
        self.packets = 0

    def add(self, now: float, size: int) -> None:
        self.samples.append((now, size))
        self.bytes += size
        self.packets += -(-size // RTP_PAYLOAD)

    def drop_older(self, than: float, into: _Window | None) -> None:
        while self.samples and self.samples[0][0] < than:
            when, size = self.samples.popleft()
            self.bytes -= size
            self.packets -= -(-size // RTP_PAYLOAD)
            if into is not None:
                into.add(when, size)


class LossCount:
    """The packets a receiver asked for again (NACK) for the first time in the last
    second. A receiver repeats each packet it still misses in every NACK, for seconds if
    the retransmission is lost too: each is counted once."""

    def __init__(self, window_s: float = 1.0, memory_s: float = 5.0) -> None:
        self._window, self._memory = window_s, memory_s
        self._first_asked: dict[int, float] = {}  # in the order asked
        self._recent: deque[float] = deque()  # when each of the last window's was asked

    def add(self, now: float, sequence_numbers: Iterable[int]) -> None:
        for number in sequence_numbers:
            if number not in self._first_asked:
                self._first_asked[number] = now
                self._recent.append(now)

    def count(self, now: float) -> int:
        while self._recent and now - self._recent[0] > self._window:
            self._recent.popleft()
        while self._first_asked:
            number, asked = next(iter(self._first_asked.items()))
            if now - asked <= self._memory:
                break
            del self._first_asked[number]
        return len(self._recent)
