"""ICE offers only the configured addresses, given as addresses or as interface names."""

from __future__ import annotations

import asyncio

import aioice.ice
from aiortc import RTCPeerConnection

from kiosk.call.ice import (
    close_peer_connection,
    host_addresses,
    resolve,
    restrict_host_addresses,
    rtc_configuration,
)


def test_an_interface_name_stands_for_its_addresses() -> None:
    assert "127.0.0.1" in resolve(["lo"])
    assert resolve(["10.1.2.3", "lo", "10.1.2.3"])[0] == "10.1.2.3"
    assert resolve(["no-such-if0"]) == []


async def test_only_the_named_interface_is_offered() -> None:
    restrict_host_addresses(["lo"])
    try:
        assert host_addresses() == resolve(["lo"])
        pc = RTCPeerConnection(rtc_configuration([]))
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        candidates = [
            line.split()[4]
            for line in pc.localDescription.sdp.splitlines()
            if line.startswith("a=candidate:")
        ]
        await pc.close()
        assert candidates
        assert set(candidates) <= set(resolve(["lo"]))
    finally:
        restrict_host_addresses(["127.0.0.1"])
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]


async def test_a_close_cancelled_while_aiortc_closes_leaves_aiortc_to_finish() -> None:
    """aiortc closes a connection itself when DTLS ends; a second close awaits the first's
    future, and cancelling that waiter (a call ending, a timeout) must not cancel it."""
    restrict_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection(rtc_configuration([]))
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    own = asyncio.ensure_future(pc.close())  # as aiortc starts it
    await asyncio.sleep(0)
    ours = asyncio.ensure_future(close_peer_connection(pc))
    await asyncio.sleep(0)
    ours.cancel()
    await asyncio.gather(ours, return_exceptions=True)
    await own  # raised InvalidStateError, its sockets left open, when the waiter cancelled it
    assert pc.connectionState == "closed"
