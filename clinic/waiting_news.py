"""How many patients wait in each clinic, told to its online devices (PROTOCOL.md section
6: `{"type": "waiting_area", "waiting": N}` whenever the count changes, and when a device
connects). Each process keeps the last count per clinic, so a fleet's reconnect reads it
once per clinic, not once per device; where several processes serve, a change is counted
by the process that saw it and told to all over the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from clinic.bus.devices import DeviceBus
from clinic.storage import Storage

Tell = Callable[[str, dict[str, Any]], Awaitable[None]]  # (clinic id, message) to its devices


def waiting_message(count: int) -> dict[str, Any]:
    return {"type": "waiting_area", "waiting": count}


class WaitingNews:
    def __init__(
        self, storage: Storage, tell: Tell, grace_s: float, shared: DeviceBus | None = None
    ) -> None:
        self._storage = storage
        self._tell = tell
        self.grace_s = grace_s
        self._shared = shared
        self._counts: dict[str, int] = {}
        if shared is not None:
            shared.on("waiting_area", lambda data: self.heard(data["clinic_id"], data["waiting"]))

    async def changed(self, clinic_id: str) -> None:
        """The clinic's waiting list may have changed: count, and tell if it did."""
        count = await self._count(clinic_id)
        if self._shared is not None:
            await self._shared.waiting(clinic_id, count)  # every process hears it, this one too
        else:
            await self.heard(clinic_id, count)

    async def heard(self, clinic_id: str, count: int) -> None:
        if self._counts.get(clinic_id) != count:
            self._counts[clinic_id] = count
            await self._tell(clinic_id, waiting_message(count))

    async def current(self, clinic_id: str) -> int:
        if clinic_id not in self._counts:
            self._counts[clinic_id] = await self._count(clinic_id)
        return self._counts[clinic_id]

    async def _count(self, clinic_id: str) -> int:
        listed = await self._storage.waiting_patients(clinic_id, self.grace_s)
        return sum(p.state == "waiting" for p in listed)
