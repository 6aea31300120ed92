"""What connected devices last said, kept in memory and written to the database only when
it means something new (a state, a room, a peripheral, a report changed) or once a minute:
a fleet's heartbeats cost no write each."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from clinic.storage import DeviceRecord, Storage

PERSIST_S = 60.0
# heartbeat fields that change every time and mean nothing new on their own
VOLATILE = frozenset({"uptime_s", "cpu_temp_c"})


@dataclass(slots=True)
class _Seen:
    at: float  # when it was last heard (epoch seconds)
    status: dict[str, Any] | None  # its last heartbeat, None before the first
    saved_at: float
    saved: dict[str, Any] | None  # what the database holds of it


def _meaning(status: dict[str, Any] | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {k: v for k, v in status.items() if k not in VOLATILE}


class Presence:
    def __init__(self, storage: Storage, persist_s: float = PERSIST_S) -> None:
        self._storage = storage
        self._persist_s = persist_s
        self._seen: dict[str, _Seen] = {}
        self.writes = 0  # heartbeats written to the database, for the curious

    async def connected(self, device: DeviceRecord) -> None:
        now = time.time()
        await self._storage.record_heartbeat(device.id, None)
        self._seen[device.id] = _Seen(now, None, now, device.status)

    async def heartbeat(self, device_id: str, status: dict[str, Any]) -> None:
        seen = self._seen.get(device_id)
        if seen is None:
            return
        seen.at, seen.status = time.time(), status
        stale = seen.at - seen.saved_at >= self._persist_s
        if stale or _meaning(status) != _meaning(seen.saved):
            await self._save(device_id, seen)

    async def disconnected(self, device_id: str) -> None:
        seen = self._seen.pop(device_id, None)
        if seen is not None and seen.status is not None and seen.at > seen.saved_at:
            await self._save(device_id, seen)

    def forget(self, device_id: str) -> None:
        """Revoked: nothing more of it is kept or written."""
        self._seen.pop(device_id, None)

    def current(self, device: DeviceRecord) -> DeviceRecord:
        """``device`` as the database has it, with what it said since, if connected."""
        seen = self._seen.get(device.id)
        if seen is None:
            return device
        status = seen.status if seen.status is not None else device.status
        return dataclasses.replace(device, last_seen=seen.at, status=status)

    async def _save(self, device_id: str, seen: _Seen) -> None:
        await self._storage.record_heartbeat(device_id, seen.status)
        seen.saved_at, seen.saved = seen.at, seen.status
        self.writes += 1
