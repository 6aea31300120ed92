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
from kiosk.signalling.tokens import public_key_pem

REFRESH_S = 600.0  # how stale one process's view of a clinic's revocations may get


def reported(device: DeviceRecord) -> dict[str, Any]:
    """The fallback part of the device's last heartbeat."""
    report = (device.status or {}).get("fallback")
    return report if isinstance(report, dict) else {}


def join_rooms(config: dict[str, Any]) -> list[str]:
    buttons = config.get("buttons") or {}
    return [
        b["room_id"] for b in buttons.values() if b.get("action") == "join" and b.get("room_id")
    ]


class FallbackFacts:
    """What a grant needs besides the device's own row, kept between config messages so
    that a device's reconnect reads nothing more: each clinic's recently revoked devices,
    and each host's last report (from its heartbeats while connected, else read once).

    One process's memory: with several processes (PROTOCOL.md section 6, `--redis`) each
    keeps its own; the revoked list is refreshed at least every `REFRESH_S` and at once on
    a revocation, a host's report when the process hearing it says it changed."""

    def __init__(self, storage: Storage, keys: ClinicKeys) -> None:
        self._storage = storage
        self._keys = keys
        self._revoked: dict[str, tuple[float, list[str]]] = {}  # clinic -> (read at, ids)
        self._reports: dict[str, dict[str, Any] | None] = {}  # device -> report; None: gone

    def report(self, device_id: str) -> dict[str, Any] | None:
        return self._reports.get(device_id)

    def heard(self, device: DeviceRecord, report: dict[str, Any]) -> dict[str, Any] | None:
        """The device's latest report; the one before it."""
        before = self._reports.get(device.id)
        self._reports[device.id] = report
        return before

    def learned(self, device_id: str, report: dict[str, Any]) -> None:
        """A host's report, as another process heard it."""
        self._reports[device_id] = report

    def revoked(self, device_id: str, clinic_id: str) -> None:
        self._reports[device_id] = None
        self._revoked.pop(clinic_id, None)

    async def _revoked_ids(self, clinic_id: str) -> list[str]:
        now = time.time()
        read_at, ids = self._revoked.get(clinic_id, (0.0, []))
        if now - read_at >= REFRESH_S:
            # a revoked device's credential stays valid offline until it expires: hosts
            # refuse it
            ids = await self._storage.revoked_devices(clinic_id, now - CREDENTIAL_TTL_S)
            self._revoked[clinic_id] = (now, ids)
        return ids

    async def _host_reports(self, clinic_id: str, host_ids: list[str]) -> dict[str, dict[str, Any]]:
        unknown = {h for h in host_ids if h not in self._reports}
        if unknown:
            found = await self._storage.devices_in_clinic(clinic_id, unknown)
            for host_id in unknown:
                host = found.get(host_id)
                self._reports[host_id] = None if host is None else reported(host)
        return {h: r for h in host_ids if (r := self._reports.get(h)) is not None}

    async def grant_for(self, device: DeviceRecord) -> FallbackGrant | None:
        settings = device.config.get("fallback") or {}
        if not settings.get("enabled"):
            return None
        host_ids: list[str] = settings.get("hosts") or []
        reports = await self._host_reports(device.clinic_id, host_ids)
        key = await self._keys.private_key(device.clinic_id)
        hosts = [
            FallbackHost(
                device_id=host_id,
                addresses=report.get("addresses") or [],
                port=report.get("port") or settings.get("port", 8765),
            )
            for host_id in host_ids
            if (report := reports.get(host_id)) is not None
        ]
        grant = FallbackGrant(
            clinic_public_key=public_key_pem(key.public_key()),
            hosts=hosts,
            revoked=await self._revoked_ids(device.clinic_id),
        )
        device_key = (self._reports.get(device.id) or reported(device)).get("public_key")
        if device_key:
            grant.credential, grant.expires_at = issue_credential(
                key,
                device_id=device.id,
                name=device.config.get("name") or device.name,
                clinic_id=device.clinic_id,
                rooms=join_rooms(device.config),
                device_public_key_pem=device_key,
            )
        return grant


def hosts_named(config: dict[str, Any]) -> frozenset[str]:
    """The LAN fallback hosts a config names (none while the fallback is off)."""
    settings = config.get("fallback") or {}
    return frozenset(settings.get("hosts") or []) if settings.get("enabled") else frozenset()


def hosting(device: DeviceRecord) -> bool:
    """Its config makes it a LAN fallback host (it names itself among the hosts)."""
    return device.id in hosts_named(device.config)
