"""The audio jitter buffer: a packet lost on the way costs only itself (aiortc's own
loses about four more with it), packets out of order are put back in order, a late one is
dropped, and a sender that restarts its numbering is followed."""

from __future__ import annotations

import random

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from kiosk.call.jitter import AHEAD, AudioJitterBuffer


def packet(number: int) -> RtpPacket:
    made = RtpPacket(sequence_number=number % 0x10000, timestamp=number * 960 % 2**32)
    made._data = number.to_bytes(4, "big")  # type: ignore[attr-defined]  # as aiortc depayloads
    return made


def played(buffer: AudioJitterBuffer | JitterBuffer, numbers: list[int]) -> list[int]:
    out = []
    for number in numbers:
        _, frame = buffer.add(packet(number))
        if frame is not None:
            out.append(int.from_bytes(frame.data, "big"))
    return out


def test_a_lost_packet_costs_only_itself() -> None:
    rng = random.Random(7)
    arrived = [n for n in range(70_000) if rng.random() >= 0.02]  # wraps the numbering
    heard = played(AudioJitterBuffer(), arrived)
    assert heard == arrived[: len(heard)]  # in order, nothing invented
    assert len(heard) >= len(arrived) - AHEAD
    # what this replaces, on the same packets
    assert len(played(JitterBuffer(capacity=16, prefetch=4), arrived)) < 0.93 * len(arrived)


def test_packets_out_of_order_are_played_in_order() -> None:
    assert played(AudioJitterBuffer(), [0, 1, 3, 2, 4, 6, 5, 7, 8, 9, 10]) == list(range(8))


def test_a_packet_too_late_is_dropped() -> None:
    heard = played(AudioJitterBuffer(), [0, 1, 3, 4, 5, 6, 7, 2, 8])
    assert heard == [0, 1, 3, 4, 5]  # 2 came after its turn was skipped


def test_a_sender_that_restarts_its_numbering_is_followed() -> None:
    before = list(range(100, 120))
    after = list(range(40_000, 40_020))
    heard = played(AudioJitterBuffer(), before + after)
    assert heard[: len(before) - AHEAD] == before[: len(before) - AHEAD]
    assert heard[-(len(after) - AHEAD) :] == after[: len(after) - AHEAD]
