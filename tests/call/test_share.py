"""Who gets the picture on an uplink too thin for everybody at the least bitrate: the
newest participant waits (its audio goes on), and comes back once there is room."""

from __future__ import annotations

from kiosk.call.share import SETTLE_S, VideoShare

LEAST = 300_000


def test_the_newest_is_paused_while_the_uplink_is_starved_and_resumed_with_room() -> None:
    share: VideoShare[str] = VideoShare()
    for who in ("doctor", "nurse"):
        share.join(who)
    assert share.update(0.0, starved=False, bitrate=LEAST, least=LEAST) == (None, None)
    assert share.update(1.0, starved=True, bitrate=LEAST, least=LEAST) == ("nurse", None)
    assert share.sent_to() == ["doctor"]
    # the doctor alone: the rate climbs, but not to two at the least with room to spare
    later = 1.0 + SETTLE_S
    assert share.update(later, starved=False, bitrate=650_000, least=LEAST) == (None, None)
    assert share.update(later + 1, starved=False, bitrate=800_000, least=LEAST) == (None, "nurse")
    assert share.sent_to() == ["doctor", "nurse"]


def test_one_participant_is_never_paused() -> None:
    share: VideoShare[str] = VideoShare()
    share.join("doctor")
    assert share.update(0.0, starved=True, bitrate=LEAST, least=LEAST) == (None, None)
    assert share.sent_to() == ["doctor"]


def test_pauses_wait_for_the_rate_to_show_and_resume_in_the_order_they_came() -> None:
    share: VideoShare[str] = VideoShare()
    for who in ("doctor", "nurse", "student"):
        share.join(who)
    assert share.update(0.0, starved=True, bitrate=LEAST, least=LEAST) == ("student", None)
    assert share.update(1.0, starved=True, bitrate=LEAST, least=LEAST) == (None, None)
    assert share.update(SETTLE_S, starved=True, bitrate=LEAST, least=LEAST) == ("nurse", None)
    plenty = 2_000_000
    assert share.update(2 * SETTLE_S, False, plenty, LEAST) == (None, "nurse")
    assert share.update(3 * SETTLE_S, False, plenty, LEAST) == (None, "student")


def test_a_paused_participant_who_leaves_is_forgotten() -> None:
    share: VideoShare[str] = VideoShare()
    for who in ("doctor", "nurse"):
        share.join(who)
    share.update(0.0, starved=True, bitrate=LEAST, least=LEAST)
    share.leave("nurse")
    assert not share.paused
    assert share.sent_to() == ["doctor"]
