"""Signalling rooms that span the processes of a clinic service (a hub's Federation).

A room is a Redis hash, peer id -> {process, name, role, token}; joining and leaving are
Lua scripts, so the cap of 6 holds over every process. A message for a member elsewhere
goes to its process's channel. The members of a process that died are orphans for
ORPHAN_S (the liveness timeout): their clients resume on another process and keep their
peer ids and media; whoever has not come back by then has left, and the room hears so.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from clinic.bus.core import PREFIX, Bus, strings
from kiosk.signalling.federation import Deliver, Entered, Refused
from kiosk.signalling.messages import SILENCE_TIMEOUT_S, PeerInfo, peer_left

log = logging.getLogger(__name__)

ORPHAN_S = SILENCE_TIMEOUT_S
TOKEN_TTL_S = 3600  # longer than any join token lives

# KEYS: room, this process's members; ARGV: peer id, member, cap, member ref, the
# process a resume may take the id from ("" none), token key ("" none), token ttl
_ENTER = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  local holder = cjson.decode(held)['p']
  if holder ~= ARGV[5] then return {'taken', holder} end
elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return {'full'}
end
if ARGV[6] ~= '' and not redis.call('SET', ARGV[6], ARGV[4], 'NX', 'EX', ARGV[7]) then
  return {'token'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'ok')
return all
"""

# KEYS: room, the holder's members; ARGV: peer id, the holder, member ref.
# The rest of the room, or nil if the peer was not the holder's (a resume took it).
_LEAVE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then return nil end
local member = cjson.decode(held)
if member['p'] ~= ARGV[2] then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[3])
if member['t'] ~= '' and redis.call('GET', member['t']) == ARGV[3] then
  redis.call('DEL', member['t'])
end
local rest = redis.call('HGETALL', KEYS[1])
table.insert(rest, 1, 'ok')
return rest
"""


def _room(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}"


def _members(process_id: str) -> str:
    return f"{PREFIX}members:{process_id}"


def _ref(room_id: str, peer_id: str) -> str:
    return f"{room_id}\t{peer_id}"


def _holders(flat: list[str]) -> dict[str, str]:
    """peer id -> its process, from a hash's HGETALL."""
    return {flat[i]: json.loads(flat[i + 1])["p"] for i in range(0, len(flat), 2)}


class RedisRooms:
    def __init__(self, bus: Bus, orphan_s: float = ORPHAN_S) -> None:
        self._bus = bus
        self._orphan_s = orphan_s
        self._enter_script = bus.redis.register_script(_ENTER)
        self._leave_script = bus.redis.register_script(_LEAVE)
        self._deliver: Deliver | None = None
        bus.on("room", self._arrived)
        bus.on_dead(self._orphaned)

    @property
    def _me(self) -> str:
        return self._bus.process_id

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def _arrived(self, data: dict[str, Any]) -> None:
        if self._deliver is not None:
            self._deliver(data["room_id"], data["to"], data["message"])

    async def enter(
        self, room_id: str, peer: PeerInfo, token_id: str, cap: int
    ) -> Entered | Refused:
        done: asyncio.Future[Entered | Refused] = asyncio.get_running_loop().create_future()

        async def work() -> None:
            try:
                done.set_result(await self._enter(room_id, peer, token_id, cap))
            except Exception as exc:
                done.set_exception(exc)

        self._bus.later(work)
        return await done

    async def _enter(
        self, room_id: str, peer: PeerInfo, token_id: str, cap: int
    ) -> Refused | Entered:
        token_key = f"{PREFIX}token:{token_id}" if token_id else ""
        member = json.dumps({"p": self._me, "n": peer.name, "r": peer.role.value, "t": token_key})
        ref = _ref(room_id, peer.peer_id)
        take_from = ""
        while True:
            answer = await self._enter_script(
                keys=[_room(room_id), _members(self._me)],
                args=[peer.peer_id, member, cap, ref, take_from, token_key, TOKEN_TTL_S],
            )
            if answer[0] == "ok":
                break
            if answer[0] == "taken" and not take_from and not await self._bus.alive(answer[1]):
                take_from = answer[1]  # an orphan: its client is resuming here
                continue
            return Refused(answer[0])
        flat = answer[1:]
        others = [
            PeerInfo(peer_id=peer_id, name=m["n"], role=m["r"])
            for peer_id, m in ((flat[i], json.loads(flat[i + 1])) for i in range(0, len(flat), 2))
            if m["p"] != self._me
        ]
        return Entered(others)

    def leave(self, room_id: str, peer_id: str) -> None:
        self._bus.later(lambda: self._remove(room_id, peer_id, self._me))

    async def _remove(self, room_id: str, peer_id: str, holder: str) -> None:
        """Out of the room if ``holder`` still holds it; the rest hear `peer_left`
        (this process's members: the hub told them, unless it is an orphan's reaping)."""
        rest = await self._leave_script(
            keys=[_room(room_id), _members(holder)], args=[peer_id, holder, _ref(room_id, peer_id)]
        )
        if rest is None:
            return
        processes = set(_holders(rest[1:]).values())
        if holder == self._me:
            processes.discard(self._me)
        for process in processes:
            await self._bus.publish(
                process, "room", room_id=room_id, to=None, message=peer_left(peer_id)
            )

    def tell(self, room_id: str, message: dict[str, Any]) -> None:
        async def work() -> None:
            flat = await self._bus.redis.hgetall(_room(room_id))
            for process in {json.loads(m)["p"] for m in flat.values()} - {self._me}:
                await self._bus.publish(process, "room", room_id=room_id, to=None, message=message)

        self._bus.later(work)

    def relay(
        self, room_id: str, to: str, message: dict[str, Any], unknown: Callable[[], None]
    ) -> None:
        async def work() -> None:
            held = await self._bus.redis.hget(_room(room_id), to)
            process = json.loads(held)["p"] if held else None
            if process is None or process == self._me:
                unknown()
                return
            # nobody hears it if that process died: its member resumes and offers anew
            await self._bus.publish(process, "room", room_id=room_id, to=[to], message=message)

        self._bus.later(work)

    # ---- a dead process's members -------------------------------------------------

    async def _orphaned(self, process_id: str) -> None:
        """Whoever has not resumed elsewhere within the liveness timeout has left."""
        refs = strings(await self._bus.redis.smembers(_members(process_id)))
        if refs:
            log.info("%d room members of process %s are orphans for %g s",
                     len(refs), process_id, self._orphan_s)  # fmt: skip
        await asyncio.sleep(self._orphan_s)
        for ref in sorted(refs):
            room_id, peer_id = ref.split("\t", 1)
            await self._remove(room_id, peer_id, process_id)
        await self._bus.redis.delete(_members(process_id))
