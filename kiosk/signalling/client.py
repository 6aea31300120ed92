"""The signalling client of a device: join a room over the WebSocket, then exchange."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from pydantic import ValidationError

from kiosk.errors import KioskError
from kiosk.signalling.messages import CLIENT_PING_S, JoinedMessage

log = logging.getLogger(__name__)

KEEPALIVE_S = CLIENT_PING_S  # a hub closes a session silent for 10 s
JOIN_WAIT_S = 10.0


class JoinError(KioskError, ConnectionError):
    """The hub refused the join (``code`` from the contract) or could not be reached."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SignallingClient:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def join(
        self, token: str, name: str, resume: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Connect and join (taking the old peer id back with ``resume``, PROTOCOL.md
        section 6); the `joined` message, or JoinError."""
        message: dict[str, Any] = {"type": "join", "token": token, "name": name}
        if resume is not None:
            message["resume"] = resume
        try:
            self._ws = await self._session.ws_connect(self._url)
            await self.send(message)
            async with asyncio.timeout(JOIN_WAIT_S):
                joined = await self._await_joined()
        except (aiohttp.ClientError, OSError) as exc:
            await self.close()
            raise JoinError("unreachable", f"{self._url}: {exc or type(exc).__name__}") from exc
        except TimeoutError as exc:
            await self.close()
            raise JoinError("timeout", f"no answer to join in {JOIN_WAIT_S:g} s") from exc
        except JoinError:
            await self.close()
            raise
        self._keepalive = asyncio.create_task(self._ping(), name="signalling-keepalive")
        return joined

    async def _await_joined(self) -> dict[str, Any]:
        while True:
            message = await self._receive()
            if message is None:
                raise JoinError("closed", "the signalling server closed the connection")
            if message.get("type") == "joined":
                try:
                    return JoinedMessage.model_validate(message).model_dump()
                except ValidationError as exc:
                    raise JoinError("bad_message", f"a malformed joined: {exc}") from None
            if message.get("type") == "error":
                raise JoinError(str(message.get("code")), str(message.get("message")))

    async def send(self, message: dict[str, Any]) -> None:
        if self._ws is None or self._ws.closed:
            raise ConnectionError("signalling is not connected")
        await self._ws.send_str(json.dumps(message))

    async def _receive(self) -> dict[str, Any] | None:
        assert self._ws is not None
        while True:
            try:
                msg = await self._ws.receive()
            except ConnectionError as exc:
                # aiohttp answers a ping while reading: on a transport already closing
                # that raises here, and the connection is as closed as on a CLOSE frame
                log.info("signalling connection lost: %s", exc)
                return None
            if msg.type is aiohttp.WSMsgType.TEXT:
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    log.warning("signalling sent a frame that is not JSON")
                    continue
                if isinstance(data, dict):
                    return data
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):  # fmt: skip
                return None

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Messages until the connection closes."""
        while self._ws is not None and (message := await self._receive()) is not None:
            if message.get("type") != "pong":
                yield message

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send({"type": "ping"})

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                if not self._ws.closed:
                    with contextlib.suppress(ConnectionError):
                        await self._ws.send_str('{"type": "leave"}')
                await self._ws.close()
            self._ws = None
