"""The signalling endpoint over aiohttp WebSockets, for the clinic service and the fallback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, WSMsgType, web

from kiosk.signalling.hub import Hub
from kiosk.signalling.messages import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

SIGNAL_PATH = "/api/v1/signal"
HUB = web.AppKey("signalling_hub", Hub)
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("signalling_sockets")

# Frames up to this size reach the hub, which answers `too_large` past 64 KiB and keeps
# the socket; only absurd frames make aiohttp close the connection (1009).
_READ_LIMIT = 16 * MAX_FRAME_BYTES


class _WebSocketTransport:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws

    async def frames(self) -> AsyncIterator[str | bytes]:
        async for msg in self._ws:
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                yield msg.data
            elif msg.type is WSMsgType.ERROR:
                log.info("signalling socket error: %s", self._ws.exception())
                return

    async def send(self, text: str) -> None:
        await self._ws.send_str(text)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code=code, message=reason.encode())


async def handle_signal(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=_READ_LIMIT, heartbeat=30)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    try:
        await request.app[HUB].serve(_WebSocketTransport(ws))
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


def add_signalling(app: web.Application, hub: Hub) -> None:
    """Serve ``hub`` at ``/api/v1/signal`` on ``app``."""
    app[HUB] = hub
    app[SOCKETS] = set()
    app.router.add_get(SIGNAL_PATH, handle_signal)
    app.on_shutdown.append(_close_sockets)
