"""The LAN fallback as the clinic sees it: credentials for devices, addresses of hosts.

Every config message to a device whose config enables the fallback carries a
`FallbackGrant`: the clinic's public key (hosts check joins with it offline), the hosts of
the device's config with the LAN addresses they last reported, and a fresh credential for
the public key the device reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clinic.keys import ClinicKeys
from clinic.storage import DeviceRecord, Storage
from kiosk.signalling.channel import FallbackGrant, FallbackHost
from kiosk.signalling.fallback_tokens import CREDENTIAL_TTL_S, issue_credential
from kiosk.signalling.tokens import public_key_pem


def reported(device: DeviceRecord) -> dict[str, Any]:
    """The fallback part of the device's last heartbeat."""
    report = (device.status or {}).get("fallback")
    return report if isinstance(report, dict) else {}


def join_rooms(config: dict[str, Any]) -> list[str]:
    buttons = config.get("buttons") or {}
    return [
        b["room_id"] for b in buttons.values() if b.get("action") == "join" and b.get("room_id")
    ]


@dataclass(frozen=True)
class ClinicFallback:
    """What the grants of one clinic's devices share, read once for all of them."""

    clinic_id: str
    devices: dict[str, DeviceRecord]
    revoked: list[str]
    key: Ed25519PrivateKey

    @classmethod
    async def load(cls, storage: Storage, keys: ClinicKeys, clinic_id: str) -> ClinicFallback:
        # a revoked device's credential stays valid offline until it expires: hosts refuse it
        since = time.time() - CREDENTIAL_TTL_S
        return cls(
            clinic_id,
            {d.id: d for d in await storage.devices(clinic_id)},
            await storage.revoked_devices(clinic_id, since),
            await keys.private_key(clinic_id),
        )

    def grant_for(self, device: DeviceRecord) -> FallbackGrant | None:
        settings = device.config.get("fallback") or {}
        if not settings.get("enabled"):
            return None
        hosts = []
        for host_id in settings.get("hosts") or []:
            host = self.devices.get(host_id)
            if host is None:
                continue
            report = reported(host)
            hosts.append(FallbackHost(
                device_id=host_id,
                addresses=report.get("addresses") or [],
                port=report.get("port") or settings.get("port", 8765),
            ))  # fmt: skip
        grant = FallbackGrant(
            clinic_public_key=public_key_pem(self.key.public_key()),
            hosts=hosts,
            revoked=self.revoked,
        )
        device_key = reported(device).get("public_key")
        if device_key:
            grant.credential, grant.expires_at = issue_credential(
                self.key,
                device_id=device.id,
                name=device.config.get("name") or device.name,
                clinic_id=self.clinic_id,
                rooms=join_rooms(device.config),
                device_public_key_pem=device_key,
            )
        return grant


def enabled(config: dict[str, Any]) -> bool:
    return bool((config.get("fallback") or {}).get("enabled"))
