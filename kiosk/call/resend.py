"""Which of the packets peers asked for again (NACK) to send again now.

A receiver repeats every packet it still misses in each NACK it sends, every round trip
or so, and aiortc resends each one every time it is asked. On a congested uplink that
multiplies the very traffic that is being lost: measured at 1 Mbit/s, a tenth of the
packets lost became half of them for the next two seconds, as resends filled the queue.
So, as libwebrtc does, a packet is sent again at most once a round trip, and resends to
all peers together take at most half the video's bitrate. The oldest first: each frame
refers to the one before it, and a receiver decodes in order (aiortc's waits for a
missing packet until 512 more have come, seconds of frozen picture, so a packet the
budget skipped until it left the sender's history is the worst case). The budget counts
first copies: `PeerLink` sends each resend a second time a round trip later, uncounted.
"""

from __future__ import annotations

from collections import deque

from kiosk.call.rate import RTP_PAYLOAD

MIN_INTERVAL_S = 0.1  # before a round trip is known, and never more often
MEMORY_S = 5.0  # longer than any receiver keeps asking
SHARE = 0.5  # of the video bitrate, at most, for resends
MIN_PER_S = 5  # resends a second allowed whatever the bitrate


class Resends:
    def __init__(self) -> None:
        self._sent_at: dict[tuple[int, int], float] = {}  # (peer, sequence) -> last, in order
        self._recent: deque[float] = deque()  # each resend of the last second

    def due(
        self, now: float, peer: int, asked: list[int], rtt: float | None, bitrate: int
    ) -> list[int]:
        """The packets of ``asked`` to send ``peer`` again now; noted as sent."""
        self._forget(now)
        interval = max(MIN_INTERVAL_S, rtt or 0.0)
        allowed = max(MIN_PER_S, int(SHARE * bitrate / (8 * RTP_PAYLOAD))) - len(self._recent)
        due: list[int] = []
        for number in asked:
            if len(due) >= allowed:
                break
            key = (peer, number)
            if now - self._sent_at.get(key, float("-inf")) >= interval:
                due.append(number)
                self._sent_at.pop(key, None)  # re-inserted last: the dict stays in time order
                self._sent_at[key] = now
                self._recent.append(now)
        return due

    def _forget(self, now: float) -> None:
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        while self._sent_at:
            key, sent_at = next(iter(self._sent_at.items()))
            if now - sent_at <= MEMORY_S:
                break
            del self._sent_at[key]
