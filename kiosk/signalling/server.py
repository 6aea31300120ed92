"""The signalling endpoint over aiohttp WebSockets, for the clinic service and the fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from kiosk.signalling.hub import Hub
from kiosk.signalling.messages import CLIENT_PING_S, MAX_FRAME_BYTES, SIGNAL_PATH

log = logging.getLogger(__name__)

HUB = web.AppKey("signalling_hub", Hub)
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("signalling_sockets")
ADDRESS_OF: web.AppKey[Callable[[web.Request], str]] = web.AppKey("signalling_address_of")

# Frames up to this size reach the hub, which answers `too_large` past 64 KiB and keeps
# the socket; only absurd frames make aiohttp close the connection (1009).
_READ_LIMIT = 16 * MAX_FRAME_BYTES


class _WebSocketTransport:
    """The hub's view of one aiohttp WebSocket. It pings the client every few seconds and
    reports its pongs, so a v1 client that sends no `ping` of its own still counts as
    heard (PROTOCOL.md section 6, liveness)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, address: str) -> None:
        self._ws = ws
        self._request = request
        self.address = address

    async def frames(self) -> AsyncIterator[str | bytes | None]:
        pinger = asyncio.create_task(self._ping(), name="signal-ws-ping")
        try:
            async for msg in self._ws:
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    yield msg.data
                elif msg.type is WSMsgType.PING:
                    await self._ws.pong(msg.data)
                    yield None
                elif msg.type is WSMsgType.PONG:
                    yield None
                elif msg.type is WSMsgType.ERROR:
                    log.info("signalling socket error: %s", self._ws.exception())
                    return
        finally:
            pinger.cancel()

    async def _ping(self) -> None:
        while not self._ws.closed:
            await asyncio.sleep(CLIENT_PING_S)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.ping()

    async def send(self, text: str) -> None:
        await self._ws.send_str(text)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code=code, message=reason.encode())

    def abort(self) -> None:
        if self._request.transport is not None:
            self._request.transport.abort()


async def handle_signal(request: web.Request) -> web.StreamResponse:
    hub, address = request.app[HUB], request.app[ADDRESS_OF](request)
    refused = hub.refusal(address)
    if refused is not None:  # before the upgrade costs anything
        log.warning("refusing a signalling socket from %s: %s", address, refused)
        return web.json_response(
            {"error": {"code": "rate_limited", "message": refused}},
            status=429,
            headers={"Retry-After": "10"},
        )
    # no aiohttp heartbeat: the hub's own silence timer decides (pongs count as heard)
    ws = web.WebSocketResponse(max_msg_size=_READ_LIMIT, autoping=False)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    try:
        await hub.serve(_WebSocketTransport(ws, request, address))
    finally:
        sockets.discard(ws)
        if not ws.closed:
            await ws.close()
    return ws


async def _close_sockets(app: web.Application) -> None:
    # close websockets before aiohttp shuts down, or shutdown waits on every client
    await app[HUB].close_all(WSCloseCode.GOING_AWAY, "server shutting down")
    sockets = app[SOCKETS]
    for ws in tuple(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


def remote_address(request: web.Request) -> str:
    return request.remote or "unknown"


def add_signalling(
    app: web.Application,
    hub: Hub,
    address_of: Callable[[web.Request], str] = remote_address,
) -> None:
    """Serve ``hub`` at ``/api/v1/signal`` on ``app``; ``address_of`` names the client
    as the socket limits count it (behind a proxy: what the proxy says)."""
    app[HUB] = hub
    app[ADDRESS_OF] = address_of
    app[SOCKETS] = set()
    app.router.add_get(SIGNAL_PATH, handle_signal)
    app.on_shutdown.append(_close_sockets)
