"""ICE configuration: which local addresses to offer, and which servers to use.

aioice offers every address of every interface except 127.0.0.1 and has no per-connection
setting for it, so the address list is set process-wide, once, from the daemon's settings
(``ice_host_addresses``: addresses, or interface names such as ``eth0`` whose addresses are
looked up at every gathering, so a DHCP lease that changes is followed). This keeps a box
with several interfaces on the clinic LAN and lets tests run on loopback alone.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

import aioice.ice
import ifaddr
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from kiosk.call import consent
from kiosk.config.settings import is_address

log = logging.getLogger(__name__)

# every peer connection of a process that places calls checks consent the tolerant way
consent.install()

_original_get_host_addresses = aioice.ice.get_host_addresses


def resolve(entries: Sequence[str]) -> list[str]:
    """Addresses as they are; interface names -> their addresses now (IPv6 link-local
    left out: ICE cannot use them without a scope)."""
    if all(is_address(entry) for entry in entries):
        return list(dict.fromkeys(entries))
    adapters = {a.nice_name: a for a in ifaddr.get_adapters()}
    addresses: list[str] = []
    for entry in entries:
        if is_address(entry):
            addresses.append(entry)
            continue
        adapter = adapters.get(entry)
        if adapter is None:
            log.warning("ICE: no interface %r (interfaces: %s)", entry, ", ".join(adapters))
            continue
        for ip in adapter.ips:
            host = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            if not ipaddress.ip_address(host).is_link_local:
                addresses.append(host)
    return list(dict.fromkeys(addresses))


def restrict_host_addresses(entries: Sequence[str]) -> None:
    """Offer only these addresses (or interfaces' addresses) as host candidates; an empty
    list restores aioice's own."""
    if not entries:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    wanted = list(entries)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [
            a for a in resolve(wanted) if (":" in a and use_ipv6) or (":" not in a and use_ipv4)
        ]

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


async def close_peer_connection(pc: RTCPeerConnection, timeout_s: float = 5.0) -> bool:
    """Close ``pc`` within ``timeout_s``; False if it had to be abandoned.

    aiortc's receivers decode on threads of their own, stopped deep inside ``close()``;
    when the remote is gone that close can stall, leave the thread running and keep the
    process from ever exiting. The decoders are stopped first, without waiting on the
    network (``_handle_disconnect`` is what aiortc itself calls when DTLS goes away).

    The close itself is never cancelled, by the timeout or by the caller's own
    cancellation: every ``close()`` after the first awaits one shared future, and
    cancelling a waiter cancels that future, so aiortc's own close (started when DTLS
    ends) fails at its end and leaves the connection's sockets open.
    """
    for transceiver in pc.getTransceivers():
        transceiver.receiver._handle_disconnect()
    closing = asyncio.ensure_future(pc.close())
    _closing.add(closing)
    closing.add_done_callback(_closed)
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.shield(closing)
    except TimeoutError:
        return False
    except asyncio.InvalidStateError:
        pass  # aiortc's own close had its shared future cancelled by another waiter
    return True


_closing: set[asyncio.Future[None]] = set()  # closes that outlived their caller


def _closed(closing: asyncio.Future[None]) -> None:
    _closing.discard(closing)
    if not closing.cancelled() and (error := closing.exception()) is not None:
        log.debug("closing a peer connection failed: %r", error)


def host_addresses() -> list[str]:
    """The local addresses ICE offers (all of them, or ``ice_host_addresses``)."""
    return list(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True))
