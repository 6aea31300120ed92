"""The shared encoder's bitrate and picture step, from the peers' estimates, their loss
and what it really sends, and which lost packets it sends again (pure logic; the real
link is in tests/network/test_constrained.py)."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from hal.fake import FakeCamera
from kiosk.call.encoder import KEYFRAME_SHARE, SharedEncoder
from kiosk.call.quality import QualityLadder
from kiosk.call.rate import DRAIN, MIN_BITRATE, LossCount, RateControl, SentRate
from kiosk.call.resend import Resends


def test_no_estimates_keep_the_maximum() -> None:
    rate = RateControl(1_500_000)
    assert rate.update(0.0, [], sent=0) == 1_500_000


def test_an_estimate_that_falls_brings_the_rate_down_at_once() -> None:
    rate = RateControl(1_500_000)
    assert rate.update(9.0, [2_000_000, 1_500_000], sent=1_400_000) == 1_500_000
    # a receiver's delay detector saw the queue grow: its estimate falls
    assert rate.update(10.0, [2_000_000, 600_000], sent=1_400_000) == 600_000
    assert rate.congested
    # never below the floor, and the floor is where the box says its uplink is too thin
    assert rate.update(11.0, [50_000], sent=600_000) == MIN_BITRATE
    # still told to go lower once the queue has had time to drain: the link cannot carry it
    assert not rate.at_floor
    assert rate.update(13.0, [40_000], sent=MIN_BITRATE) == MIN_BITRATE
    assert rate.at_floor
    # until the link carries more again (the estimates come up)
    assert rate.update(15.0, [200_000], sent=MIN_BITRATE) > MIN_BITRATE
    assert not rate.at_floor


def test_the_floor_is_the_admins_least_bitrate() -> None:
    rate = RateControl(1_500_000, min_bitrate=400_000)
    assert rate.update(9.0, [1_500_000], sent=1_400_000) == 1_500_000
    assert rate.update(10.0, [500_000], sent=1_400_000) == 500_000
    assert rate.update(11.0, [250_000], sent=500_000) == 400_000
    assert rate.update(13.0, [200_000], sent=400_000) == 400_000
    assert rate.at_floor


def test_a_failed_probe_that_lands_on_the_floor_is_not_a_link_too_thin() -> None:
    rate = RateControl(1_500_000, min_bitrate=330_000)
    rate.update(0.0, [1_500_000], sent=1_400_000)
    assert rate.update(1.0, [400_000], sent=1_400_000) == 400_000  # the estimate fell
    assert rate.update(3.0, [400_000], sent=400_000) == 500_000  # a probe, too far
    # its first cut goes to 80 % of the rate before, here below the floor
    assert rate.update(3.5, [350_000], sent=500_000) == 330_000
    # the queue the probe filled drains: loss a second later, then none
    assert rate.update(4.5, [350_000], sent=400_000, loss=0.3) == 330_000
    assert rate.update(5.5, [350_000], sent=330_000) == 330_000
    assert not rate.at_floor


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


def test_an_estimate_below_the_sent_rate_that_is_catching_up_is_not_congestion() -> None:
    rate = RateControl(1_500_000, start=600_000)
    assert rate.update(0.0, [700_000], sent=600_000) == 900_000  # a step up
    # the receiver's estimate grows 8 % a second at most: below the new rate for a while
    assert rate.update(1.0, [760_000], sent=880_000) == 900_000
    assert rate.update(2.0, [820_000], sent=890_000) == 1_350_000  # the climb goes on
    assert not rate.congested
    # an estimate that falls is congestion: the step just taken caused it, so the rate
    # goes below the one before the step, for the queue to drain
    assert rate.update(3.0, [770_000], sent=1_300_000) == int(DRAIN * 900_000)
    assert rate.congested


def test_after_congestion_the_climb_holds_below_it_then_probes_and_finds_a_freed_link() -> None:
    rate = RateControl(1_500_000, start=1_000_000)
    assert rate.update(0.0, [1_200_000], sent=1_000_000) == 1_500_000
    assert rate.update(1.0, [1_200_000], sent=1_400_000, loss=0.2) == int(DRAIN * 1_000_000)
    # a second later still losing a tenth and more: a cut of 15 % at least
    assert rate.update(2.0, [1_200_000], sent=800_000, loss=0.12) == 680_000
    # the loss stops there: the link's known good rate; the climb waits at it...
    assert rate.update(3.0, [1_200_000], sent=680_000) == 680_000
    assert rate.update(3.9, [1_200_000], sent=680_000) == 680_000
    # ...then probes past it a quarter at a time (this link has been freed)
    assert rate.update(4.0, [1_200_000], sent=680_000) == 850_000
    assert rate.update(6.0, [1_200_000], sent=850_000) == 1_062_500
    # half again past the known good rate, no loss, and the receivers' estimates up to
    # the target: the link has changed, climb fast
    assert rate.update(8.0, [1_200_000], sent=1_062_500) == 1_500_000


def test_on_a_link_still_thin_the_probes_stop_where_the_estimates_do() -> None:
    rate = RateControl(1_500_000, start=680_000)
    rate.update(0.0, [700_000], sent=680_000, loss=0.2)  # congested: good is 578 kbit/s
    assert rate.update(3.0, [700_000], sent=578_000) == 722_500
    # the estimates stay put: no probe past them, into the queue
    assert rate.update(5.0, [700_000], sent=722_500) == 722_500
    assert rate.update(20.0, [700_000], sent=722_500) == 722_500
    # they grow (a link freed): each probe as they come up to the target
    assert rate.update(21.0, [740_000], sent=722_500) == 903_125
    assert rate.update(23.0, [850_000], sent=903_125) == 903_125
    assert rate.update(24.0, [920_000], sent=903_125) == 1_354_687  # half again past: free


def test_loss_brings_the_rate_down_before_the_estimate_does() -> None:
    rate = RateControl(1_500_000)
    # a third of the packets asked for again; the estimates have not moved yet: down by
    # half the loss
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
    # a lost resend is asked for again, for seconds: still one lost packet, long counted
    loss.add(1.5, [10, 11, 12, 13])
    assert loss.count(1.6) == 1


def test_sent_rate_is_over_the_last_second() -> None:
    sent = SentRate()
    for i in range(20):
        sent.add(i * 0.1, 1000)  # 10 kB/s for 2 s
    assert sent.rate(1.95) == 10 * 1000 * 8
    assert sent.packets(1.95) == 10


def test_loss_just_after_a_cut_is_measured_against_what_was_sent_when_it_was_lost() -> None:
    sent = SentRate()
    for i in range(10):
        sent.add(i * 0.1, 3000)  # 3 packets a frame for a second...
    for i in range(10, 20):
        sent.add(i * 0.1, 1000)  # ...then one, after a cut
    # the NACKs arriving now are for the packets before the cut
    assert sent.packets(1.95) == 30


def test_a_packet_is_sent_again_at_most_once_a_round_trip() -> None:
    resends = Resends()
    assert resends.due(0.0, 1, [5, 6], rtt=0.2, bitrate=1_000_000) == [5, 6]
    assert resends.due(0.1, 1, [5, 6, 7], rtt=0.2, bitrate=1_000_000) == [7]
    assert resends.due(0.1, 2, [5], rtt=0.2, bitrate=1_000_000) == [5]  # another peer
    assert resends.due(0.25, 1, [5, 6, 7], rtt=0.2, bitrate=1_000_000) == [5, 6]


def test_resends_take_half_the_bitrate_at_most_the_oldest_first() -> None:
    resends = Resends()
    # 480 kbit/s: half is 25 packets of 1200 bytes a second; a receiver decodes in order
    assert resends.due(0.0, 1, list(range(100, 130)), rtt=0.1, bitrate=480_000) == list(
        range(100, 125)
    )
    assert resends.due(0.5, 1, [200], rtt=0.1, bitrate=480_000) == []
    assert resends.due(1.1, 1, [200], rtt=0.1, bitrate=480_000) == [200]


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
    # the encoder overshoots, for a second (not a keyframe or two)
    assert not ladder.update(0.0, target=1_000_000, sent=2_000_000)
    assert not ladder.update(0.5, target=1_000_000, sent=2_000_000)
    assert ladder.update(1.0, target=1_000_000, sent=2_000_000)
    assert (ladder.size(), ladder.frame_rate()) == ((320, 240), 30)
    assert not ladder.update(2.0, target=1_000_000, sent=2_000_000)  # held for a while
    # just after a cut the encoder has not had the time to meet the new target
    assert not ladder.update(3.5, target=500_000, sent=900_000)
    assert not ladder.update(4.5, target=500_000, sent=900_000)
    assert ladder.update(5.5, target=500_000, sent=900_000)
    assert (ladder.size(), ladder.frame_rate()) == ((320, 240), 15)
    assert not ladder.update(7.5, target=300_000, sent=500_000)
    assert not ladder.update(8.5, target=300_000, sent=500_000)
    assert ladder.update(9.5, target=300_000, sent=500_000)
    assert (ladder.size(), ladder.frame_rate()) == ((160, 120), 15)
    assert ladder.lowest
    # the link is free again: each step up when what it cost fits the target
    now, steps = 12.0, []
    while now < 33:
        if ladder.update(now, target=1_500_000, sent=400_000):
            steps.append((now, *ladder.size(), ladder.frame_rate()))
        now += 0.5
    assert [step[1:] for step in steps] == [(320, 240, 15), (320, 240, 30)]
    assert steps[-1][0] - 12.0 <= 10
    # 640x480 was seen to need 2 Mbit/s: more than the admin's 1.5 allow, so not again
    assert ladder.index == 1


def test_one_lost_packet_of_a_still_picture_is_not_congestion() -> None:
    encoder = SharedEncoder("VP8", 320, 240, 15, 1_000_000)
    flat = np.full((360, 320), 100, np.uint8)  # a still picture: a packet a frame
    for number in range(6):
        frame = av.VideoFrame.from_ndarray(flat, format="yuv420p")
        frame.pts = number * 6000
        encoder.encode(frame)
        encoder.asked_again(1, [number], rtt=None)  # one in six asked for again
    assert encoder.target_bitrate() == 1_000_000


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_a_keyframe_is_no_bigger_than_a_few_frames_share(codec: str) -> None:
    """Each rate change reopens the codec (a keyframe), sent at once: on a thin link a
    full queue would drop the tail of a big one (VP8 made 5.5 frames' share)."""

    async def busy_frames() -> list[av.VideoFrame]:
        camera = FakeCamera(320, 240, 30, busy=True)
        await camera.start()
        try:
            return [await camera.read() for _ in range(3)]
        finally:
            await camera.stop()

    encoder = SharedEncoder(codec, 320, 240, 30, 800_000)
    frames = asyncio.run(busy_frames())
    keyframe = encoder.encode(frames[0])  # a newly opened codec starts with one
    assert keyframe
    assert keyframe[0].is_keyframe
    share = 800_000 / 8 / 30
    assert sum(p.size for p in keyframe) <= (KEYFRAME_SHARE + 0.5) * share


def test_a_new_receivers_estimate_below_the_others_is_no_fall() -> None:
    rate = RateControl(1_500_000)
    assert rate.update(0.0, [1_600_000], sent=1_500_000) == 1_500_000
    # a participant joins (or its video resumes): its estimator starts low
    rate.new_receiver()
    assert rate.update(1.0, [1_600_000, 200_000], sent=1_500_000) == 1_500_000
    # its estimate falling from there is congestion
    assert rate.update(2.0, [1_600_000, 150_000], sent=1_500_000) == 150_000
