"""The daemon's log: aioice and aiortc, which say a dozen things per call at INFO (every
candidate pair), speak only of problems unless the log level is DEBUG."""

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
