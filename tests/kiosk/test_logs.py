"""The daemon's log: aioice and aiortc, which say a dozen things per call at INFO (every
candidate pair), speak only of problems unless the log level is DEBUG, and a problem they
repeat every frame once a minute."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kiosk import logs


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in ("aioice", "aiortc")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.parametrize(("level", "expected"), [("INFO", logging.WARNING),
                                                  ("DEBUG", logging.DEBUG)])  # fmt: skip
def test_ice_chatter_only_when_debugging(level: str, expected: int) -> None:
    logs.setup(level)
    for name in ("aioice.ice", "aiortc.rtcpeerconnection"):
        assert logging.getLogger(name).getEffectiveLevel() == expected
    assert logging.getLogger("kiosk.daemon").getEffectiveLevel() == logging.getLevelName(level)


def test_a_warning_a_library_repeats_every_frame_is_logged_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup("INFO")
    decoder = logging.getLogger("aiortc.rtcrtpreceiver")
    for _ in range(100):  # as aiortc says it for every frame before a keyframe
        decoder.warning("RTCRtpReceiver(%s) failed to decode %s frame: %s", "video", "VP8", "x")
    for n in range(3):
        logging.getLogger("kiosk.call.engine").warning("the daemon's own, %d", n)
    logged = capsys.readouterr().err.splitlines()
    assert len([line for line in logged if "failed to decode VP8 frame" in line]) == 1
    assert len([line for line in logged if "the daemon's own" in line]) == 3


def test_after_a_minute_it_is_logged_again_with_how_many_were_left_out() -> None:
    now = [0.0]
    repeats = logs.Repeats(window_s=60, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("aiortc.x", logging.WARNING, __file__, 1, message, (), None)

    passed = []
    for second in range(130):
        now[0] = float(second)
        one = record("failed to decode")
        if repeats.filter(one):
            passed.append((second, one.getMessage()))
    assert repeats.filter(record("another message"))  # each message on its own
    assert passed == [
        (0, "failed to decode"),
        (60, "failed to decode (and 59 more like it before)"),
        (120, "failed to decode (and 59 more like it before)"),
    ]


def test_what_it_remembers_is_bounded() -> None:
    repeats = logs.Repeats(window_s=60, clock=lambda: 0.0)
    for n in range(3 * logs.REPEAT_KEYS):  # messages with their own text each time
        record = logging.LogRecord("aioice.ice", logging.WARNING, __file__, 1, f"{n}", (), None)
        assert repeats.filter(record)
    assert len(repeats._seen) <= logs.REPEAT_KEYS
