"""The LAN fallback as the clinic sees it: credentials for devices, addresses of hosts.

Every config message to a device whose config enables the fallback carries a
`FallbackGrant`: the clinic's public key (hosts check joins with it offline), the hosts of
the device's config with the LAN addresses they last reported, and a fresh credential for
the public key the device reported.
"""

from __future__ import annotations

import time
from typing import Any

from clinic.keys import ClinicKeys
from clinic.storage import DeviceRecord, Storage
from kiosk.signalling.channel import FallbackGrant, FallbackHost
from kiosk.signalling.fallback_tokens import CREDENTIAL_TTL_S, issue_credential


def reported(device: DeviceRecord) -> dict[str, Any]:
    """The fallback part of the device's last heartbeat."""
    report = (device.status or {}).get("fallback")
    return report if isinstance(report, dict) else {}


def join_rooms(config: dict[str, Any]) -> list[str]:
    buttons = config.get("buttons") or {}
    return [
        b["room_id"] for b in buttons.values() if b.get("action") == "join" and b.get("room_id")
    ]


async def grant_for(
    storage: Storage, keys: ClinicKeys, device: DeviceRecord
) -> FallbackGrant | None:
    settings = device.config.get("fallback") or {}
    if not settings.get("enabled"):
        return None
    clinic_devices = {d.id: d for d in await storage.devices(device.clinic_id)}
    hosts = []
    for host_id in settings.get("hosts") or []:
        host = clinic_devices.get(host_id)
        if host is None or host.revoked:
            continue
        report = reported(host)
        hosts.append(FallbackHost(
            device_id=host_id,
            addresses=report.get("addresses") or [],
            port=report.get("port") or settings.get("port", 8765),
        ))  # fmt: skip
    # a revoked device's credential stays valid offline until it expires: hosts refuse it
    since = time.time() - CREDENTIAL_TTL_S
    grant = FallbackGrant(
        clinic_public_key=await keys.public_key_pem(device.clinic_id),
        hosts=hosts,
        revoked=await storage.revoked_devices(device.clinic_id, since),
    )
    public_key = reported(device).get("public_key")
    if public_key:
        grant.credential, grant.expires_at = issue_credential(
            await keys.private_key(device.clinic_id),
            device_id=device.id,
            name=device.config.get("name") or device.name,
            clinic_id=device.clinic_id,
            rooms=join_rooms(device.config),
            device_public_key_pem=public_key,
        )
    return grant
