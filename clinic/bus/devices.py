"""Device channels, presence and offline alerts over the processes of a clinic service.

Which process holds a device's channel is a Redis key (`device:{id}` -> process), so a
config push, a command or a revocation made through any process reaches the device. Which
devices a process watches for going offline is a hash (`devices:{process}`): a device
stays there after its channel closes, until it is alerted about or seen elsewhere, so
that if the process dies, whoever takes over alerts about it. What
each device last said is mirrored in one hash every FLUSH_S by the process that heard it,
so every process lists every device as it is. An offline alert is sent by whoever first
sets `offline:{id}` (SET NX); the key goes when the device is back, so each going-offline
alerts once whichever processes watched it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

from clinic.bus.core import PREFIX, Bus
from clinic.storage import DeviceRecord

log = logging.getLogger(__name__)

SEEN = PREFIX + "seen"  # device id -> [epoch seconds, its last heartbeat]
OFFLINE_TTL_S = 7 * 24 * 3600

# KEYS: device:{id}; ARGV: this process
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


def _where(device_id: str) -> str:
    return f"{PREFIX}device:{device_id}"


def _held_by(process_id: str) -> str:
    return f"{PREFIX}devices:{process_id}"


def _offline(device_id: str) -> str:
    return f"{PREFIX}offline:{device_id}"


@dataclasses.dataclass(frozen=True, slots=True)
class Orphan:
    """A device whose channel was on a process that died."""

    device_id: str
    clinic_id: str
    name: str
    interval_s: float


class DeviceBus:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._release = bus.redis.register_script(_RELEASE)

    @property
    def process_id(self) -> str:
        return self._bus.process_id

    def on(self, kind: str, handler: Callable[[dict[str, Any]], Awaitable[None] | None]) -> None:
        self._bus.on(kind, handler)

    def on_orphans(self, adopt: Callable[[list[Orphan]], None]) -> None:
        """``adopt`` watches the devices a dead process watched (in one process)."""

        async def dead(process_id: str) -> None:
            held = cast(dict[str, str], await self._bus.redis.hgetall(_held_by(process_id)))
            ids = sorted(held)
            if ids:
                elsewhere = await self.holders(ids)  # reconnected meanwhile: watched there
                orphans = [Orphan(i, *json.loads(held[i])) for i in ids if i not in elsewhere]
                for orphan in orphans:
                    self._bus.later(partial(self._watch, orphan))
                adopt(orphans)
            await self._bus.redis.delete(_held_by(process_id))

        self._bus.on_dead(dead)

    # ---- where a device's channel is ------------------------------------------------

    async def claim(self, device: DeviceRecord, interval_s: float) -> None:
        """The device's channel is here now; the process that held it lets it go."""
        me = self.process_id
        watched = json.dumps([device.clinic_id, device.name, interval_s])
        async with self._bus.redis.pipeline(transaction=True) as pipe:
            pipe.set(_where(device.id), me, get=True)
            pipe.hset(_held_by(me), device.id, watched)
            pipe.delete(_offline(device.id))
            before, *_ = await pipe.execute()
        if before and before != me:
            await self._bus.publish(before, "device_replaced", device_id=device.id)

    def release(self, device_id: str) -> None:
        """Its channel here closed (this process still watches it)."""
        me = self.process_id
        self._bus.later(lambda: self._release(keys=[_where(device_id)], args=[me]))

    def unwatch(self, device_id: str) -> None:
        """This process no longer watches it (alerted about, moved, or revoked)."""
        self._bus.later(partial(self._bus.redis.hdel, _held_by(self.process_id), device_id))

    async def _watch(self, orphan: Orphan) -> None:
        watched = json.dumps([orphan.clinic_id, orphan.name, orphan.interval_s])
        await self._bus.redis.hset(_held_by(self.process_id), orphan.device_id, watched)

    async def holders(self, device_ids: list[str]) -> dict[str, str]:
        """Of ``device_ids``, those whose channel a live process holds: id -> process."""
        if not device_ids:
            return {}
        where = await self._bus.redis.mget([_where(i) for i in device_ids])
        live = self._bus.live
        return {i: p for i, p in zip(device_ids, where, strict=True) if p and p in live}

    # ---- reaching a device held elsewhere -------------------------------------------

    async def _to_holder(self, device_id: str, kind: str, **fields: Any) -> bool:
        holder = cast(str | None, await self._bus.redis.get(_where(device_id)))
        if not holder or holder == self.process_id:
            return False
        return await self._bus.publish(holder, kind, device_id=device_id, **fields)

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        return await self._to_holder(device_id, "device_send", message=message)

    async def push_config(self, device: DeviceRecord) -> None:
        await self._to_holder(device.id, "device_config", device=dataclasses.asdict(device))

    async def waiting(self, clinic_id: str, count: int) -> None:
        """A clinic's waiting count, for its devices on every process."""
        await self._bus.broadcast("waiting_area", clinic_id=clinic_id, waiting=count)

    async def host_reported(self, device_id: str, report: dict[str, Any]) -> None:
        """A LAN host's new addresses, for the devices naming it on every process."""
        await self._bus.broadcast(
            "host_reported", device_id=device_id, report=report, origin=self.process_id
        )

    # ---- what devices said, and their offline alerts -------------------------------

    async def heard(self, said: dict[str, tuple[float, dict[str, Any]]]) -> None:
        if said:
            items = [x for i, (at, s) in said.items() for x in (i, json.dumps([at, s]))]
            await self._bus.redis.hset(SEEN, items=items)

    async def said(self, device_ids: list[str]) -> dict[str, tuple[float, dict[str, Any]]]:
        if not device_ids:
            return {}
        found = await self._bus.redis.hmget(SEEN, device_ids)
        return {i: tuple(json.loads(raw)) for i, raw in zip(device_ids, found, strict=True) if raw}

    async def judge(self, device_ids: list[str]) -> tuple[set[str], set[str]]:
        """Of devices that look offline here: those to alert about (not connected to a
        live process, not alerted about already by any process), and those that moved
        to another live process (to stop watching)."""
        elsewhere = await self.holders(device_ids)
        moved = {i for i, p in elsewhere.items() if p != self.process_id}
        alert = set()
        for device_id in device_ids:
            if device_id not in moved and await self._bus.redis.set(
                _offline(device_id), self.process_id, nx=True, ex=OFFLINE_TTL_S
            ):
                alert.add(device_id)
        return alert, moved
