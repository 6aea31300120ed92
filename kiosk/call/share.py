"""Who gets the box's picture when its uplink cannot carry everybody at the least bitrate.

The encoder is shared, but each participant is sent its own copy: a participant more
than the uplink carries at the admin's least bitrate would take everybody's picture down
with it (measured: two participants at 300 kbit/s on a 560 kbit/s uplink lost 50-85 % of
their packets, both). So the newest participant's video is paused (audio goes on) and
the box says its uplink is insufficient; it is resumed, in the order they came, once the
ones still sent could each give up what it needs with room to spare.
"""

from __future__ import annotations

from typing import Generic, TypeVar

SETTLE_S = 4.0  # between two pauses or resumes: the rate needs a couple of steps to show
RESUME_MARGIN = 1.2  # room to spare past the least bitrate for everybody, to resume

T = TypeVar("T")


class VideoShare(Generic[T]):
    def __init__(self) -> None:
        self._joined: dict[T, None] = {}  # in the order they came
        self.paused: dict[T, None] = {}
        self._changed_at = float("-inf")

    def join(self, who: T) -> None:
        self._joined[who] = None

    def leave(self, who: T) -> None:
        self._joined.pop(who, None)
        self.paused.pop(who, None)

    def joined(self) -> list[T]:
        """Everybody, in the order they came (a copy: see `sent_to`)."""
        return list(self._joined)

    def sent_to(self) -> list[T]:
        # list() copies in one step: join and leave run on the event loop, update on the
        # encoder's thread
        return [who for who in list(self._joined) if who not in self.paused]

    def update(
        self, now: float, starved: bool, bitrate: int, least: int
    ) -> tuple[T | None, T | None]:
        """(paused, resumed) now, given whether the uplink is starved at the least bitrate
        and the rate it carries each participant now."""
        if now - self._changed_at < SETTLE_S:
            return None, None
        sent = list(self.sent_to())
        if starved and len(sent) > 1:
            newest = sent[-1]
            self.paused[newest] = None
            self._changed_at = now
            return newest, None
        room = len(sent) * bitrate >= RESUME_MARGIN * (len(sent) + 1) * least
        if self.paused and not starved and room:
            first = next(who for who in list(self._joined) if who in self.paused)
            del self.paused[first]
            self._changed_at = now
            return None, first
        return None, None
