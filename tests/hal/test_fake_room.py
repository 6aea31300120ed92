"""The fake room's clock: the speaker's sound reaches the microphone a fixed time later on
the room's clock, however late the daemon gets to either; the fake microphone's buffer
hands a late reader what it missed, as ALSA's does."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from hal.fake.room import AcousticCoupling
from hal.pacing import Pacer

RATE = 48_000
FRAME = 960


def tone(n: int) -> np.ndarray:
    return (1000 * np.sin(np.arange(FRAME) / 7 + n)).astype(np.int16)


def echo_heard(read_times: list[float]) -> np.ndarray:
    """What a microphone reading its frames (ending 20 ms apart from t=100.06) at the
    given wall times hears of ten frames played on time from t=100."""
    room = AcousticCoupling(delay_ms=40, gain_db=0)
    for n in range(10):
        room.played(tone(n), at=100 + n * FRAME / RATE)
    return np.concatenate(
        [room.heard(FRAME, at=at) for at in read_times]  # `at`: the frame's own time
    )


def test_the_echo_is_where_the_rooms_clock_puts_it() -> None:
    ends = [100.04 + (n + 1) * FRAME / RATE for n in range(10)]
    heard = echo_heard(ends)
    played = np.concatenate([tone(n) for n in range(10)]).astype(np.float32)
    reflection = int(0.007 * RATE)
    # 40 ms later at 0 dB, plus a reflection 7 ms after that at -9 dB
    expected = played.copy()
    expected[reflection:] += played[:-reflection] * 10 ** (-9 / 20)
    assert heard == pytest.approx(expected, abs=0.01)


def test_a_speaker_a_little_late_plays_on_and_one_that_ran_dry_starts_anew() -> None:
    def heard(second_frame_at: float) -> np.ndarray:
        room = AcousticCoupling(delay_ms=0, gain_db=0)
        room.played(tone(0), at=10.0)
        room.played(tone(1), at=second_frame_at)
        room.played(tone(2), at=10.2)  # 160 ms after the last frame ended: it ran dry
        return room.heard(int(0.22 * RATE), at=10.22)

    on_time = heard(10.02)
    assert heard(10.03) == pytest.approx(on_time)  # 10 ms late: its buffer still played
    silent = on_time[int(0.05 * RATE) : int(0.2 * RATE)]  # after frame 1 and its reflection
    assert not silent.any()
    began = on_time[int(0.2 * RATE) : int(0.207 * RATE)]  # before its own reflection
    assert began == pytest.approx(tone(2)[: began.size].astype(np.float32), abs=0.01)


async def test_a_late_reader_gets_what_the_buffer_held_and_skips_what_it_did_not() -> None:
    for buffered, expected in ((4, [1, 2, 3]), (1, [3, 4, 5])):
        pacer = Pacer(0.1, buffered)
        start = await pacer.wait()
        await asyncio.sleep(0.35)  # 3.5 periods behind
        ticks = [round((await pacer.wait() - start) / 0.1) for _ in range(3)]
        assert ticks == expected, buffered
    assert time.monotonic() - start < 1
