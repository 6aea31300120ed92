"""PROTOCOL.md section 6, limits are bytes: a frame's size is its UTF-8 bytes, and what
waits for a client that does not read is bounded in bytes (closed with 4429 past it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from kiosk.signalling.hub import OUTBOX_BYTES
from kiosk.signalling.messages import MAX_FRAME_BYTES
from kiosk.signalling.server import HUB
from tests.clinic_server import ClinicFixture, ClinicServer


async def joined(
    server: ClinicServer, token: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    grant = await server.ok("POST", f"/rooms/{server.clinics[0].meeting_room}/join-token", token)
    ws = await server.session.ws_connect(server.signal_url, max_msg_size=0)
    await ws.send_str(json.dumps({"type": "join", "token": grant["token"]}))
    return ws, json.loads((await ws.receive(timeout=10)).data)


async def test_a_frame_is_measured_in_utf8_bytes(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    ws, _ = await joined(clinic_server, clinic.member.token)
    try:
        clef = "\U0001d11e"  # four bytes in UTF-8, one character
        frame = json.dumps(
            {"type": "ping", "pad": clef * (MAX_FRAME_BYTES // 3)}, ensure_ascii=False
        )
        assert len(frame) < MAX_FRAME_BYTES < len(frame.encode())
        await ws.send_str(frame)
        answer = json.loads((await ws.receive(timeout=10)).data)
        assert answer["type"] == "error"
        assert answer["code"] == "too_large"
        await ws.send_str(json.dumps({"type": "ping"}))  # and the socket is still usable
        assert json.loads((await ws.receive(timeout=10)).data) == {"type": "pong"}
    finally:
        await ws.close()


async def test_a_client_that_does_not_read_is_dropped_at_its_byte_budget(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    hub = clinic_server.app[HUB]
    slow, slow_joined = await joined(clinic_server, clinic.member.token)  # never reads
    sender, _ = await joined(clinic_server, clinic.other_member.token)
    try:
        assert json.loads((await slow.receive(timeout=5)).data)["type"] == "peer_joined"
        offer = json.dumps({"type": "offer", "to": slow_joined["peer_id"], "sdp": "v" * 60_000})
        most = 0
        for _ in range(300):  # 18 MB, far more than any socket buffer holds
            await sender.send_str(offer)
            await asyncio.sleep(0)
            most = max(most, hub.queued_bytes)
        left = None
        async with asyncio.timeout(20):
            while left is None:
                message = json.loads((await sender.receive()).data)
                if message["type"] == "peer_left":
                    left = message
        assert left == {"type": "peer_left", "peer_id": slow_joined["peer_id"]}
        assert most <= OUTBOX_BYTES + 70_000  # never more than one client's budget waited
        # what the slow client finally reads ends with the close that says why
        async with asyncio.timeout(20):
            while (message := await slow.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
        assert slow.close_code == 4429
        assert hub.queued_bytes == 0
    finally:
        await slow.close()
        await sender.close()
