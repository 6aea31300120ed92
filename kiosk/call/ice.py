"""ICE configuration: which local addresses to offer, and which servers to use.

aioice offers every address of every interface except 127.0.0.1 and has no per-connection
setting for it, so the address list is set process-wide, once, from the daemon's settings
(``ice_host_addresses``). This keeps a box with several interfaces on the clinic LAN and
lets tests run on loopback alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_original_get_host_addresses = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Offer only ``addresses`` as host candidates; an empty list restores aioice's own."""
    if not addresses:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    allowed = list(dict.fromkeys(addresses))

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses


def rtc_configuration(ice_servers: Sequence[dict[str, Any]]) -> RTCConfiguration:
    """An aiortc configuration with exactly these servers: none means none, never aiortc's
    default public STUN server (which stalls gathering 5 s where it cannot be reached)."""
    servers = [
        RTCIceServer(
            urls=server["urls"],
            username=server.get("username"),
            credential=server.get("credential"),
        )
        for server in ice_servers
    ]
    return RTCConfiguration(iceServers=servers)
