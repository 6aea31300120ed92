"""What connected devices last said, kept in memory and written to the database only when
it means something new (a state, a room, a peripheral, a report changed), once a minute,
and when a device goes: a fleet's heartbeats cost no write each. What is due is written
by one task, every `FLUSH_S`, all of it in one transaction: a fleet reconnecting at once
after a restart costs a few commits, not one per device (SQLite commits a few hundred
times a second at best). Where several processes serve the clinic, each flush also
hands everything heard since the last one to ``share`` (the bus), so that every process
shows every device as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from clinic.storage import DeviceRecord, Storage

log = logging.getLogger(__name__)

PERSIST_S = 60.0
FLUSH_S = 1.0
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


Said = dict[str, tuple[float, dict[str, Any]]]  # device id -> (when, its heartbeat)


class Presence:
    def __init__(
        self,
        storage: Storage,
        persist_s: float = PERSIST_S,
        share: Callable[[Said], Awaitable[None]] | None = None,
    ) -> None:
        self._storage = storage
        self._persist_s = persist_s
        self._share = share
        self._seen: dict[str, _Seen] = {}
        self._due: Said = {}  # to write to the database
        self._heard: Said = {}  # to share, since the last flush
        self.writes = 0  # statuses written to the database, for the curious

    def connected(self, device: DeviceRecord) -> None:
        """No write: what the database holds of it stays true until it says otherwise."""
        saved_at = device.last_seen or 0.0
        self._seen[device.id] = _Seen(time.time(), None, saved_at, device.status)

    def heartbeat(self, device_id: str, status: dict[str, Any]) -> None:
        seen = self._seen.get(device_id)
        if seen is None:
            return
        seen.at, seen.status = time.time(), status
        if self._share is not None:
            self._heard[device_id] = (seen.at, status)
        stale = seen.at - seen.saved_at >= self._persist_s
        if stale or _meaning(status) != _meaning(seen.saved):
            self._due[device_id] = (seen.at, status)
            seen.saved_at, seen.saved = seen.at, status

    def disconnected(self, device_id: str) -> None:
        seen = self._seen.pop(device_id, None)
        if seen is not None and seen.status is not None and seen.at > seen.saved_at:
            self._due[device_id] = (seen.at, seen.status)

    def forget(self, device_id: str) -> None:
        """Revoked: nothing more of it is kept or written."""
        self._seen.pop(device_id, None)
        self._due.pop(device_id, None)
        self._heard.pop(device_id, None)

    def current(self, device: DeviceRecord) -> DeviceRecord:
        """``device`` as the database has it, with what it said since, if connected."""
        seen = self._seen.get(device.id)
        if seen is None:
            due = self._due.get(device.id)
            if due is None:
                return device
            return dataclasses.replace(device, last_seen=due[0], status=due[1])
        status = seen.status if seen.status is not None else device.status
        return dataclasses.replace(device, last_seen=seen.at, status=status)

    async def flush(self) -> bool:
        """Write what is due, in one transaction; False if the database would not."""
        if self._share is not None and self._heard:
            heard, self._heard = self._heard, {}
            try:
                await self._share(heard)
            except Exception:
                log.exception("cannot share %d device statuses", len(heard))
                self._heard = {**heard, **self._heard}
        due, self._due = self._due, {}
        if not due:
            return True
        try:
            await self._storage.record_heartbeats(due)
        except Exception:
            # the database is down or busy: kept (newer news first), tried at the next flush
            log.exception("cannot write %d device statuses", len(due))
            self._due = {**due, **self._due}
            return False
        self.writes += len(due)
        return True

    async def run(self) -> None:
        """Flush every FLUSH_S, until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(FLUSH_S)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())
