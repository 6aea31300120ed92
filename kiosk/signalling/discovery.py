"""Finding fallback hosts on the LAN with mDNS/DNS-SD (zeroconf), when the addresses the
clinic last gave out are stale (a host got a new DHCP lease, or moved port).

A host announces `_kiosk-signal._tcp` with its device id and clinic in the TXT record;
a device looking for the hosts of its config browses briefly and keeps the ones it knows.
zeroconf is imported here only, so a box that is not a fallback host never loads it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_kiosk-signal._tcp.local."
BROWSE_S = 1.5


@dataclass(frozen=True, slots=True)
class Found:
    device_id: str
    addresses: list[str]
    port: int


def _zeroconf(interfaces: list[str]) -> AsyncZeroconf:
    if interfaces:
        return AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.All)
    return AsyncZeroconf(ip_version=IPVersion.V4Only)


class Announcer:
    """A fallback host's DNS-SD record, while it serves."""

    def __init__(self) -> None:
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    async def start(self, device_id: str, clinic_id: str, addresses: list[str], port: int) -> None:
        packed = [
            socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses
        ]
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{device_id}.{SERVICE_TYPE}",
            addresses=packed,
            port=port,
            properties={"device_id": device_id, "clinic_id": clinic_id},
            server=f"{device_id}.local.",
        )
        zc = _zeroconf(addresses)
        try:
            await zc.async_register_service(info)
        except Exception:
            await zc.async_close()
            raise
        self._zc, self._info = zc, info
        log.info("announced on mDNS as %s", info.name)

    async def stop(self) -> None:
        zc, info, self._zc, self._info = self._zc, self._info, None, None
        if zc is not None and info is not None:
            await zc.async_unregister_service(info)
            await zc.async_close()


async def discover(
    clinic_id: str, device_ids: list[str], interfaces: list[str], browse_s: float = BROWSE_S
) -> list[Found]:
    """The hosts among ``device_ids`` of ``clinic_id`` that answer on the LAN, in that order."""
    names: set[str] = set()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    zc = _zeroconf(interfaces)
    found: dict[str, Found] = {}
    try:
        browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
        await asyncio.sleep(browse_s)
        await browser.async_cancel()
        for name in names:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zc.zeroconf, 1000):
                continue
            props = _text(info.properties)
            device = props.get("device_id", "")
            if props.get("clinic_id") == clinic_id and device in device_ids and info.port:
                found[device] = Found(device, info.parsed_addresses(), info.port)
    finally:
        await zc.async_close()
    log.info("mDNS found fallback hosts %s", sorted(found) or "none")
    return [found[d] for d in device_ids if d in found]


def _text(properties: dict[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v or "")
        )
        for k, v in properties.items()
    }
