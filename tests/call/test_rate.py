"""The shared encoder's bitrate and picture step, from the peers' estimates and what it
really sends (pure logic; the real link is in tests/network/test_constrained.py)."""

from __future__ import annotations

import av
import numpy as np

from kiosk.call.encoder import SharedEncoder
from kiosk.call.quality import QualityLadder
from kiosk.call.rate import MIN_BITRATE, LossCount, RateControl, SentRate


def test_no_estimates_keep_the_maximum() -> None:
    rate = RateControl(1_500_000)
    assert rate.update(0.0, [], sent=0) == 1_500_000


def test_a_congested_peer_brings_the_rate_down_at_once() -> None:
    rate = RateControl(1_500_000)
    assert rate.update(10.0, [2_000_000, 600_000], sent=1_400_000) == 600_000
    assert rate.congested
    # never below the floor, and the floor is where the box says its uplink is too thin
    assert rate.update(11.0, [50_000], sent=600_000) == MIN_BITRATE
    assert rate.at_floor


def test_estimates_that_only_follow_the_sent_rate_let_it_climb_in_steps() -> None:
    rate = RateControl(1_500_000, start=200_000)
    times, rates = [0.0, 1.0, 2.5, 5.0, 7.5, 10.0, 12.5], []
    for now in times:
        # aiortc's estimate: about 8 % over what arrives
        rates.append(rate.update(now, [int(rate.bitrate * 1.08)], sent=rate.bitrate))
    assert rates[0] == 300_000  # up by half...
    assert rates[1] == 300_000  # ...not more often than every 2 s
    assert rates[-1] == 1_500_000  # the admin's maximum, reached in about 10 s


def test_a_still_picture_that_sends_little_is_not_congestion() -> None:
    rate = RateControl(1_500_000)
    # the picture needs 50 kbit/s; the receiver's estimate follows that, not the target
    assert rate.update(0.0, [55_000], sent=50_000) == 1_500_000
    assert not rate.congested


def test_a_step_up_is_not_taken_for_congestion_while_the_estimate_catches_up() -> None:
    rate = RateControl(1_500_000, start=600_000)
    assert rate.update(0.0, [700_000], sent=600_000) == 900_000  # a step up
    # the receiver's estimate grows 8 % a second: it is below the new rate for a while
    assert rate.update(1.0, [700_000], sent=880_000) == 900_000
    assert rate.update(2.0, [760_000], sent=890_000) == 900_000
    assert not rate.congested
    # but below what was sent before the step: that is congestion
    assert rate.update(3.0, [500_000], sent=890_000) == 500_000
    assert rate.congested


def test_loss_brings_the_rate_down_before_the_estimate_does() -> None:
    rate = RateControl(1_500_000)
    # a third of the packets asked for again; the estimates have not moved yet
    assert rate.update(10.0, [1_600_000], sent=1_400_000, loss=0.3) == 1_190_000
    assert rate.congested
    # a few percent (a lossy radio link) holds the rate where it is
    rate = RateControl(1_500_000, start=600_000)
    assert rate.update(10.0, [700_000], sent=600_000, loss=0.07) == 600_000
    assert rate.update(20.0, [700_000], sent=600_000, loss=0.01) == 900_000


def test_loss_counts_each_packet_asked_for_once_over_a_second() -> None:
    loss = LossCount()
    loss.add(0.0, [10, 11])
    loss.add(0.2, [10, 11, 12])  # a receiver repeats what it still misses
    assert loss.count(0.5) == 3
    assert loss.count(1.1) == 1  # 10 and 11 were first asked for over a second ago


def test_sent_rate_is_over_the_last_second() -> None:
    sent = SentRate()
    for i in range(20):
        sent.add(i * 0.1, 1000)  # 10 kB/s for 2 s
    assert sent.rate(1.95) == 10 * 1000 * 8
    assert sent.packets(1.95) == 10


def test_at_the_floor_the_ladder_gives_up_pixels_even_when_the_encoder_keeps_up() -> None:
    ladder = QualityLadder(640, 480, 30)
    # the encoder meets the least bitrate at full size, but the link wants even less
    assert ladder.update(0.0, target=MIN_BITRATE, sent=MIN_BITRATE, starved=True)
    assert ladder.update(2.5, target=MIN_BITRATE, sent=MIN_BITRATE, starved=True)
    assert ladder.update(5.0, target=MIN_BITRATE, sent=MIN_BITRATE, starved=True)
    assert ladder.lowest  # with the rate at its floor: the uplink is too thin (status)
    assert not ladder.update(7.5, target=MIN_BITRATE, sent=MIN_BITRATE, starved=True)


def test_the_ladder_gives_up_pixels_then_frames_and_climbs_back() -> None:
    ladder = QualityLadder(640, 480, 30)
    assert (ladder.size(), ladder.frame_rate()) == ((640, 480), 30)
    assert ladder.update(0.0, target=1_000_000, sent=2_000_000)  # the encoder overshoots
    assert (ladder.size(), ladder.frame_rate()) == ((320, 240), 30)
    assert not ladder.update(1.0, target=1_000_000, sent=2_000_000)  # held for a while
    assert ladder.update(2.5, target=500_000, sent=900_000)
    assert (ladder.size(), ladder.frame_rate()) == ((320, 240), 15)
    assert ladder.update(5.0, target=300_000, sent=500_000)
    assert (ladder.size(), ladder.frame_rate()) == ((160, 120), 15)
    assert ladder.lowest
    # the link is free again: each step up when what it cost fits the target
    now, steps = 7.5, []
    while now < 30:
        if ladder.update(now, target=1_500_000, sent=400_000):
            steps.append((now, *ladder.size(), ladder.frame_rate()))
        now += 0.5
    assert [step[1:] for step in steps] == [(320, 240, 15), (320, 240, 30)]
    assert steps[-1][0] - 7.5 <= 10
    # 640x480 was seen to need 2 Mbit/s: more than the admin's 1.5 allow, so not again
    assert ladder.index == 1


def test_one_lost_packet_of_a_still_picture_is_not_congestion() -> None:
    encoder = SharedEncoder("VP8", 320, 240, 15, 1_000_000)
    flat = np.full((360, 320), 100, np.uint8)  # a still picture: a packet a frame
    for number in range(6):
        frame = av.VideoFrame.from_ndarray(flat, format="yuv420p")
        frame.pts = number * 6000
        encoder.encode(frame)
        encoder.report_lost(1, [number])  # one in six asked for again
    assert encoder.target_bitrate() == 1_000_000
