"""The signalling client's reading end: a connection that breaks while being read is a
closed connection (the call then rejoins), never an exception that ends the call's
signalling for good."""

from __future__ import annotations

import aiohttp
from aiohttp.client_exceptions import ClientConnectionResetError

from kiosk.signalling.client import SignallingClient


class ClosingWhileAPingCame:
    """aiohttp's websocket as it is when the clinic's ping arrives on a transport that is
    already closing: ``receive`` answers the ping itself, and the write raises."""

    closed = False

    async def receive(self) -> aiohttp.WSMessage:
        raise ClientConnectionResetError("Cannot write to closing transport")


async def test_a_reset_while_reading_ends_the_messages_as_a_close_does() -> None:
    async with aiohttp.ClientSession() as session:
        client = SignallingClient(session, "http://127.0.0.1:9/signal")
        client._ws = ClosingWhileAPingCame()  # type: ignore[assignment]
        assert [message async for message in client.messages()] == []
