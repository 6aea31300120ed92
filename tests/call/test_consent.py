"""ICE consent freshness on a busy box: a far end that answers late (1 s, as a saturated
Pi does) keeps its link; one that never answers loses it, as RFC 7675 says.

Two real aioice connections on loopback, with the checks' clock sped up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioice.ice
import pytest
from aioice import Connection

from kiosk.call import consent

ANSWER_DELAY_S = 1.0  # past aioice's single 0.5 s timeout, well within ours


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(consent, "CONSENT_INTERVAL_S", 0.3)
    monkeypatch.setattr(consent, "CONSENT_EXPIRY_S", 3.0)
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.3)  # aioice's own: 6 misses, ~2 s
    yield
    consent.install()


@pytest.fixture
async def pair(
    loopback_ice: None, quick_checks: None
) -> AsyncIterator[tuple[Connection, Connection]]:
    a, b = (
        Connection(ice_controlling=True, components=1),
        Connection(ice_controlling=False, components=1),
    )
    yield a, b
    await a.close()
    await b.close()


async def connect(a: Connection, b: Connection) -> None:
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for here, there in ((a, b), (b, a)):
        here.remote_username, here.remote_password = there.local_username, there.local_password
        for candidate in there.local_candidates:
            await here.add_remote_candidate(candidate)
        await here.add_remote_candidate(None)
    await asyncio.gather(a.connect(), b.connect())


def answer_late(conn: Connection, delay: float | None) -> None:
    """``conn`` answers STUN requests ``delay`` s late (None: never)."""
    original = conn.request_received
    loop = asyncio.get_running_loop()

    def late(*args: Any) -> None:
        if delay is not None:
            loop.call_later(delay, original, *args)

    conn.request_received = late  # type: ignore[method-assign]


async def alive_for(conn: Connection, seconds: float) -> float | None:
    """None if ``conn`` still holds its link after ``seconds``; else when it dropped it."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if not conn._nominated:
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    return None


@pytest.mark.parametrize("ours", [True, False], ids=["ours", "aioice"])
async def test_a_late_answer_keeps_the_link_only_with_our_checks(
    pair: tuple[Connection, Connection], ours: bool
) -> None:
    a, b = pair
    if ours:
        consent.install()
    else:
        consent.uninstall()  # what the box suffered before
    await connect(a, b)
    answer_late(b, ANSWER_DELAY_S)
    dropped = await alive_for(a, 6.0)  # two expiry periods
    assert (dropped is None) is ours, dropped


async def test_a_far_end_that_never_answers_loses_consent(
    pair: tuple[Connection, Connection],
) -> None:
    a, b = pair
    consent.install()
    await connect(a, b)
    answer_late(b, None)
    dropped = await alive_for(a, 8.0)
    assert dropped is not None
    assert 2.5 <= dropped <= 4.5  # the expiry (3 s here), plus one check interval
