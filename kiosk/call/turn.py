"""Whether the TURN server the clinic named lets this box relay with its credentials.

aioice drops a failed TURN allocation without a word: the call then has no relayed
candidate, and behind a strict firewall no media. This asks the server itself, once per
call, so an expired or forged credential, or a server that does not answer, is reported
with the server's own reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aioice import stun, turn
from aiortc.rtcicetransport import parse_stun_turn_uri

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0


def turn_servers(ice_servers: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(url, server) for every turn:/turns: URL."""
    found = []
    for server in ice_servers:
        urls = server.get("urls") or []
        for url in [urls] if isinstance(urls, str) else urls:
            if str(url).startswith(("turn:", "turns:")):
                found.append((str(url), server))
    return found


async def check_turn(url: str, server: dict[str, Any]) -> str | None:
    """None when ``url`` grants an allocation to these credentials; else why not."""
    parsed = parse_stun_turn_uri(url)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            transport, _ = await turn.create_turn_endpoint(
                asyncio.DatagramProtocol,
                server_addr=(parsed["host"], parsed["port"]),
                username=server.get("username"),
                password=server.get("credential"),
                ssl=parsed["scheme"] == "turns",
                transport=parsed["transport"],
            )
    except stun.TransactionFailed as exc:
        code, reason = exc.response.attributes.get("ERROR-CODE", (0, "no reason"))
        if code == 401:
            return (f"TURN server {url} refused the credentials (401 {reason}): expired, or "
                    "not made with this server's secret")  # fmt: skip
        return f"TURN server {url} refused the allocation ({code} {reason})"
    except (TimeoutError, stun.TransactionTimeout):
        return f"TURN server {url} does not answer"
    except (OSError, ConnectionError) as exc:
        return f"TURN server {url} cannot be reached: {exc}"
    transport.close()
    return None


async def check_all(ice_servers: Sequence[dict[str, Any]]) -> str | None:
    """The first problem of the TURN servers of a call, or None (also when there are none)."""
    for url, server in turn_servers(ice_servers):
        problem = await check_turn(url, server)
        if problem is not None:
            log.error("%s; calls that need a relay will have no media", problem)
            return problem
    return None
