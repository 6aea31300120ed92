"""The device channel client: stays connected to the clinic while the box is enrolled.

Config and commands arrive here; heartbeats leave from here. Reconnects with backoff; a
close with 4403 (revoked) or a refused token is fatal, anything else is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from kiosk.management.backoff import Backoff
from kiosk.management.state import Credential
from kiosk.signalling.channel import CHANNEL_PATH, CLOSE_REVOKED, send_json

log = logging.getLogger(__name__)

MAX_ROOM_NAMES = 99  # buttons are numbered 1-99

# WebSocket pings every PING_S; a clinic not heard from (a frame, a ping or a pong) for
# SILENT_S has vanished without closing the socket (a dead link, a crashed host), and the
# LAN fallback takes over: noticed 8-10 s after its last word, while a clinic that pauses
# for 5 s (a busy or migrating server) disconnects nobody
PING_S = 2.0
SILENT_S = 8.0
# a clinic that accepts and then drops the channel is not hammered: the backoff starts
# over only once a connection has stayed up this long
HEALTHY_AFTER_S = 30.0


class ChannelHandler(Protocol):
    async def on_config(
        self, version: int, config: dict[str, Any], fallback: dict[str, Any] | None
    ) -> None: ...

    async def on_command(self, command_id: str, action: str) -> tuple[bool, str | None]: ...

    def on_revoked(self) -> None: ...

    def on_connection(self, connected: bool) -> None: ...

    def on_waiting(self, count: int) -> None:
        """How many patients wait in the clinic's waiting area (PROTOCOL.md section 6)."""

    def on_room_names(self, names: dict[str, str]) -> None:
        """The names of the rooms the config's buttons name (room id -> name)."""

    def heartbeat(self) -> dict[str, Any]: ...

    def heartbeat_seconds(self) -> float: ...


@dataclass
class Revoked(Exception):
    reason: str


class ChannelClient:
    def __init__(
        self,
        credential: Credential,
        handler: ChannelHandler,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._credential = credential
        self._handler = handler
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reconnect = asyncio.Event()
        self._wake = asyncio.Event()
        self._heard_at = 0.0  # loop time of the clinic's last frame, ping or pong
        self.healthy_after_s = HEALTHY_AFTER_S

    @property
    def url(self) -> str:
        base = self._credential.clinic_url.rstrip("/")
        return "ws" + base.removeprefix("http") + CHANNEL_PATH

    async def run(self) -> None:
        """Until cancelled or revoked."""
        token = self._credential.device_token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._session(session, headers)
                except Revoked as exc:
                    log.warning("the clinic revoked this device: %s", exc.reason)
                    self._handler.on_revoked()
                    return
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    log.info("clinic channel: %s", exc or type(exc).__name__)
                except Exception:  # a bug here must not end management: log it, go on
                    log.exception("clinic channel failed")
                self._handler.on_connection(False)
                delay = self._backoff.next_delay()
                log.info("reconnecting to the clinic in %.1f s", delay)
                await self._sleep(delay)

    def reconnect(self) -> None:
        """Drop the connection and connect again (the clinic resends the config)."""
        self._reconnect.set()

    def beat_now(self) -> None:
        """Send the next heartbeat now rather than at the end of the interval."""
        self._wake.set()

    async def send(self, message: dict[str, Any]) -> bool:
        return await send_json(self._ws, message)

    async def _session(self, session: aiohttp.ClientSession, headers: dict[str, str]) -> None:
        try:
            ws = await session.ws_connect(
                self.url,
                headers=headers,
                autoping=False,  # pings and pongs reach _receive: both count as heard
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),  # a dead peer never answers
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise Revoked("the clinic does not know this device's token") from exc
            raise
        self._ws = ws
        healthy = asyncio.get_running_loop().call_later(self.healthy_after_s, self._backoff.reset)
        self._reconnect.clear()
        self._handler.on_connection(True)
        log.info("connected to the clinic at %s", self._credential.clinic_url)
        try:
            async with asyncio.TaskGroup() as tasks:
                beats = tasks.create_task(self._beat(), name="heartbeat")
                watcher = tasks.create_task(self._watch_reconnect(ws), name="reconnect")
                liveness = tasks.create_task(self._liveness(ws), name="clinic-liveness")
                try:
                    await self._receive(ws)
                finally:
                    beats.cancel()
                    watcher.cancel()
                    liveness.cancel()
        finally:
            healthy.cancel()
            self._ws = None
            await ws.close()
        if ws.close_code == CLOSE_REVOKED:
            raise Revoked("channel closed with 4403")

    async def _watch_reconnect(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await self._reconnect.wait()
        await ws.close()

    async def _beat(self) -> None:
        while True:
            self._wake.clear()
            await self.send(self._handler.heartbeat())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._handler.heartbeat_seconds())

    async def _liveness(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        self._heard_at = pinged = loop.time()
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            if now - self._heard_at >= SILENT_S:
                log.warning("no word from the clinic in %.0f s", now - self._heard_at)
                # said at once: closing waits for an answer that will not come
                self._handler.on_connection(False)
                await ws.close()
                return
            if now - pinged >= PING_S:
                pinged = now
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.ping()

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            self._heard_at = asyncio.get_running_loop().time()
            if msg.type is aiohttp.WSMsgType.PING:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.pong(msg.data)
                continue
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                log.warning("clinic sent a frame that is not JSON")
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "config":
                names = data.get("room_names")
                if isinstance(names, dict):  # as many as a config has buttons, at most
                    named = [(str(k)[:64], v[:100]) for k, v in names.items() if isinstance(v, str)]
                    self._handler.on_room_names(dict(named[:MAX_ROOM_NAMES]))
                try:
                    await self._handler.on_config(
                        int(data["config_version"]), data["config"], data.get("fallback")
                    )
                except Exception as exc:  # one bad message must not drop the channel
                    log.exception("config message not applied (%s)", type(exc).__name__)
            elif kind == "command":
                await self._command(data)
            elif kind == "waiting_area":
                waiting = data.get("waiting")
                if isinstance(waiting, int) and not isinstance(waiting, bool) and waiting >= 0:
                    self._handler.on_waiting(waiting)
            elif kind == "error":
                log.warning("clinic says: %s", data.get("message"))

    async def _command(self, data: dict[str, Any]) -> None:
        command_id, action = str(data.get("command_id")), str(data.get("action"))
        try:
            ok, message = await self._handler.on_command(command_id, action)
        except Exception as exc:  # answered, and the channel stays up
            log.exception("command %s (%s) failed", command_id, action)
            ok, message = False, f"{type(exc).__name__}: {exc}"[:2000]
        result: dict[str, Any] = {"type": "command_result", "command_id": command_id, "ok": ok}
        if message:
            result["message"] = message
        await self.send(result)
