"""One process's link to the other processes of a clinic service, through Redis.

Each process subscribes to its own channel and to one for all; what it publishes to
another process arrives in order. A process is alive while its subscription is: Redis
drops the subscription of a process that crashed (its connection closes with it), so
`PUBSUB NUMSUB` tells the others at once, and a process paused for a few seconds is not
taken for dead. Every REAP_S one process claims each dead process (SET NX, for CLAIM_S)
and the bus's users take over what it left (rooms' members, devices' offline watch); the
dead process is struck off only once they are done, so if the claimant dies meanwhile,
another claims it when the claim expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "clinic:"
PROCESSES = PREFIX + "processes"
ALL = PREFIX + "all"
REAP_S = 1.0
CLAIM_S = 60  # longer than any taking over takes

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]
Work = Callable[[], Awaitable[object]]


def channel(process_id: str) -> str:
    return f"{PREFIX}process:{process_id}"


def strings(values: Iterable[str | bytes]) -> set[str]:
    """What a client with decode_responses gives back (its stubs say bytes or str)."""
    return {v if isinstance(v, str) else v.decode() for v in values}


class BusError(Exception):
    """Redis cannot be reached or used."""


class Bus:
    def __init__(self, url: str) -> None:
        self.url = url
        # names the host and the OS process, for an operator reading the logs
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.redis: redis.Redis = redis.from_url(url, decode_responses=True)
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._handlers: dict[str, Handler] = {}
        self._on_dead: list[Callable[[str], Awaitable[None]]] = []
        self._outbox: asyncio.Queue[Work | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._taking_over: dict[str, asyncio.Task[None]] = {}
        self.live: set[str] = {self.process_id}  # as of the last look, every REAP_S

    # ---- what users of the bus register ---------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Messages of ``kind`` for this process arrive here, in order."""
        self._handlers[kind] = handler

    def on_dead(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Called with a dead process's id, in one process only."""
        self._on_dead.append(handler)

    # ---- life -----------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._pubsub.subscribe(channel(self.process_id), ALL)
            await self.redis.sadd(PROCESSES, self.process_id)
        except (RedisError, OSError) as exc:
            raise BusError(f"cannot use Redis at {self.url}: {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._listen(), name="bus-listen"),
            asyncio.create_task(self._send_in_order(), name="bus-outbox"),
            asyncio.create_task(self._reap(), name="bus-reap"),
        ]
        log.info("on the bus at %s as process %s", self.url, self.process_id)

    async def retire(self) -> None:
        """Shutting down: from now on the others take this process for dead and take
        over what it holds, so that its clients, closed next, resume elsewhere."""
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe(channel(self.process_id))

    async def stop(self) -> None:
        """What is queued goes out; then this process is gone, as if it had crashed:
        the others take over what it held."""
        self._outbox.put_nowait(None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), 5)
        for task in [*self._tasks, *self._taking_over.values()]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()

    # ---- sending --------------------------------------------------------------------

    def later(self, work: Work) -> None:
        """Run ``work`` after all work given before it (one task: what one process sends
        arrives in the order it was given)."""
        self._outbox.put_nowait(work)

    async def publish(self, process_id: str, kind: str, **fields: Any) -> bool:
        """To one process; False if it is gone."""
        text = json.dumps({"kind": kind, **fields})
        return bool(await self.redis.publish(channel(process_id), text))

    async def broadcast(self, kind: str, **fields: Any) -> None:
        """To every process, this one included."""
        await self.redis.publish(ALL, json.dumps({"kind": kind, **fields}))

    async def alive(self, process_id: str) -> bool:
        if process_id == self.process_id:
            return True
        [(_, count)] = await self.redis.pubsub_numsub(channel(process_id))
        return bool(count)

    # ---- the tasks ------------------------------------------------------------------

    async def _send_in_order(self) -> None:
        while (work := await self._outbox.get()) is not None:
            try:
                await work()
            except (RedisError, OSError):
                log.exception("the bus lost a message")

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError):
                log.exception("the bus's subscription failed; retrying")
                await asyncio.sleep(1)
                continue
            if message is None:
                continue
            try:
                data = json.loads(message["data"])
                handler = self._handlers.get(data.get("kind"))
                if handler is None:
                    log.warning("the bus carried an unknown message %r", data.get("kind"))
                    continue
                done = handler(data)
                if done is not None:
                    await done
            except Exception:
                log.exception("a bus message failed")

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(REAP_S)
            try:
                await self._look()
            except (RedisError, OSError):
                log.exception("cannot look for dead processes")

    async def _look(self) -> None:
        known = sorted(strings(await self.redis.smembers(PROCESSES)))
        if not known:
            return
        counts = await self.redis.pubsub_numsub(*(channel(p) for p in known))
        self.live = {p for p, (_, n) in zip(known, counts, strict=True) if n} | {self.process_id}
        for dead in sorted(set(known) - self.live - set(self._taking_over)):
            if await self.redis.set(f"{PREFIX}claimed:{dead}", self.process_id, nx=True,
                                    ex=CLAIM_S):  # fmt: skip
                log.warning("clinic process %s is gone; taking over what it held", dead)
                task = asyncio.create_task(self._take_over(dead), name="bus-take-over")
                self._taking_over[dead] = task

    async def _take_over(self, dead: str) -> None:
        try:
            done = await asyncio.gather(*(h(dead) for h in self._on_dead), return_exceptions=True)
            for failed in (d for d in done if isinstance(d, BaseException)):
                log.error("taking over from process %s failed", dead, exc_info=failed)
            await self.redis.srem(PROCESSES, dead)
        except (RedisError, OSError):
            log.exception("taking over from process %s failed", dead)
        finally:
            del self._taking_over[dead]
