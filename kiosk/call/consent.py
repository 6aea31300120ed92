"""ICE consent freshness (RFC 7675) that a busy box survives.

aioice checks consent every ~5 s with a single STUN request and no retransmission (one
0.5 s timeout), and gives up after six misses in a row. On a saturated Pi the far end's
answer is often later than 0.5 s, so a healthy link was torn down (34 rebuilds in a
12-minute 5-participant call under load). Here each check is retransmitted (0.5, 1 and
2 s apart, as RFC 7675 allows) without holding up the next one, and consent expires as
the RFC says: 30 s after the last answer. A peer that really died is still found fast by
the call engine's own liveness (no media for 10 s: rebuilt), not by consent.

Installed process-wide by :func:`install` (aioice has no per-connection hook), as
:mod:`kiosk.call.ice` restricts the host addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import aioice.ice
from aioice import stun

log = logging.getLogger(__name__)

CONSENT_INTERVAL_S = 5.0  # randomised 0.8-1.2 times, as aioice does
CONSENT_RETRANSMISSIONS = 3  # sent at 0, 0.5, 1.5 and 3.5 s; given up at 7.5 s
CONSENT_EXPIRY_S = 30.0  # RFC 7675 section 5.1

_original = aioice.ice.Connection.query_consent


async def query_consent(self: aioice.ice.Connection) -> None:
    """Replaces ``aioice.ice.Connection.query_consent``."""
    assert self.remote_password is not None
    key = self.remote_password.encode("utf8")
    answered = time.monotonic()
    checks: set[asyncio.Task[None]] = set()

    async def check(pair: aioice.ice.CandidatePair) -> None:
        nonlocal answered
        request = self.build_request(pair, nominate=False)
        with contextlib.suppress(stun.TransactionError):
            await pair.protocol.request(
                request,
                pair.remote_addr,
                integrity_key=key,
                retransmissions=CONSENT_RETRANSMISSIONS,
            )
            answered = time.monotonic()

    try:
        while True:
            await asyncio.sleep(CONSENT_INTERVAL_S * (0.8 + 0.4 * random.random()))
            if time.monotonic() - answered > CONSENT_EXPIRY_S:
                log.info("ICE consent expired: no answer for %.0f s", CONSENT_EXPIRY_S)
                self._query_consent_task = None  # close() must not cancel this task
                await self.close()
                return
            for pair in self._nominated.values():
                task = asyncio.create_task(check(pair), name="ice-consent")
                checks.add(task)
                task.add_done_callback(checks.discard)
    finally:
        for task in list(checks):
            task.cancel()
        await asyncio.gather(*checks, return_exceptions=True)


def install() -> None:
    """Every aioice connection of this process checks consent this way."""
    aioice.ice.Connection.query_consent = query_consent  # type: ignore[method-assign]


def uninstall() -> None:
    """aioice's own check again (for tests that compare the two)."""
    aioice.ice.Connection.query_consent = _original  # type: ignore[method-assign]
