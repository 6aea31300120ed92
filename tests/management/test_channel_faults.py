"""The device channel survives what it receives, and does not hammer a flapping clinic."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from kiosk.management.backoff import Backoff
from kiosk.management.channel import ChannelClient
from kiosk.management.state import Credential
from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import serving

Serve = Callable[[web.WebSocketResponse], Awaitable[None]]


class Handler:
    """What the manager would be, recording what reaches it."""

    def __init__(self) -> None:
        self.configs: list[int] = []
        self.connections: list[bool] = []

    async def on_config(
        self, version: int, config: dict[str, Any], fallback: dict[str, Any] | None
    ) -> None:
        if not isinstance(config, dict):
            raise TypeError("config is not an object")
        self.configs.append(version)

    async def on_command(self, command_id: str, action: str) -> tuple[bool, str | None]:
        if action == "explode":
            raise RuntimeError("boom")
        return True, f"did {action}"

    def on_revoked(self) -> None:
        pass

    def on_connection(self, connected: bool) -> None:
        self.connections.append(connected)

    def on_waiting(self, count: int) -> None:
        pass

    def on_room_names(self, names: dict[str, str]) -> None:
        pass

    def heartbeat(self) -> dict[str, Any]:
        return {"type": "heartbeat", "state": "idle"}

    def heartbeat_seconds(self) -> float:
        return 30.0


@pytest.fixture
async def clinic() -> AsyncIterator[tuple[str, list[Serve]]]:
    """A stand-in for the clinic's channel endpoint, serving each connection with the next
    function of the list (the last one again when the list runs out)."""
    behaviours: list[Serve] = []
    served = 0

    async def channel(request: web.Request) -> web.WebSocketResponse:
        nonlocal served
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        behaviour = behaviours[min(served, len(behaviours) - 1)]
        served += 1
        await behaviour(ws)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get(CHANNEL_PATH, channel)
    async with serving(app) as url:
        yield url, behaviours


def credential(url: str) -> Credential:
    return Credential("dv_1", "cl_1", url, SecretStr("token"))


async def test_a_message_that_breaks_its_handler_is_answered_and_the_channel_stays_up(
    clinic: tuple[str, list[Serve]],
) -> None:
    url, behaviours = clinic
    results: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def bad_messages(ws: web.WebSocketResponse) -> None:
        await ws.send_str(json.dumps({"type": "config", "config_version": "x", "config": {}}))
        await ws.send_str(json.dumps({"type": "config", "config_version": 3, "config": "no"}))
        await ws.send_str(json.dumps({"type": "config"}))
        await ws.send_str(json.dumps({"type": "command", "command_id": "c1", "action": "explode"}))
        await ws.send_str(json.dumps({"type": "config", "config_version": 4, "config": {}}))
        await ws.send_str(json.dumps({"type": "command", "command_id": "c2", "action": "mute"}))
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "command_result":
                results.append(data)
                if len(results) == 2:
                    done.set()  # and read on until the client goes

    behaviours.append(bad_messages)
    handler = Handler()
    client = ChannelClient(credential(url), handler)
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert results[0]["command_id"] == "c1"
    assert results[0]["ok"] is False
    assert "RuntimeError: boom" in results[0]["message"]
    assert results[1] == {"type": "command_result", "command_id": "c2", "ok": True,
                          "message": "did mute"}  # fmt: skip
    assert handler.configs == [4]
    assert handler.connections == [True]  # one connection all along


async def test_the_backoff_starts_over_only_after_a_connection_stayed_healthy(
    clinic: tuple[str, list[Serve]],
) -> None:
    url, behaviours = clinic
    held = asyncio.Event()

    async def drop_at_once(ws: web.WebSocketResponse) -> None:
        pass

    async def hold_then_drop(ws: web.WebSocketResponse) -> None:
        await asyncio.sleep(0.5)
        held.set()

    behaviours.extend([drop_at_once] * 4 + [hold_then_drop, drop_at_once])
    delays: list[float] = []
    gone = asyncio.Event()

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 6:
            gone.set()
            await asyncio.sleep(3600)

    backoff = Backoff(initial_s=1.0, cap_s=1000.0, rng=random.Random(1))
    client = ChannelClient(credential(url), Handler(), backoff, sleep=sleep)
    client.healthy_after_s = 0.3
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(10):
            await gone.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # four drops right after connecting: the waits keep doubling (ceilings 1, 2, 4, 8),
    # each drawn from the whole interval; the same seed replays the draws
    replay = Backoff(initial_s=1.0, cap_s=1000.0, rng=random.Random(1))
    assert delays[:4] == [replay.next_delay() for _ in range(4)]
    # a connection that stayed up 0.5 s (> 0.3 s): the next wait starts over, and grows
    replay.reset()
    assert delays[4:6] == [replay.next_delay() for _ in range(2)]
