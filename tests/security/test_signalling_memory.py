"""Memory exhaustion without an account: anyone may get a patient token, so what a socket
may make the server hold is bounded. PROTOCOL.md section 6, limits are bytes: a frame's
size is its UTF-8 bytes, what waits for a client that does not read is bounded in bytes
(closed with 4429 past it), one join token serves one session, and sockets are capped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from kiosk.signalling import hub as hub_module
from kiosk.signalling.hub import OUTBOX_BYTES, SocketLimits
from kiosk.signalling.messages import MAX_FRAME_BYTES
from kiosk.signalling.server import HUB
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.security.conftest import join


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


async def enter(server: ClinicServer, clinic_id: str) -> dict[str, Any]:
    return await server.ok(
        "POST", f"/clinics/{clinic_id}/waiting-area/enter", body={"name": "Anyone"}
    )


async def test_an_anonymous_patient_cannot_open_a_second_session_with_its_token(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    """The attack needed two sockets in the patient's own space: one that never reads, one
    that sends it large offers. A token now serves one live session at a time."""
    patient = await enter(clinic_server, clinic.clinic_id)
    first, joined_first, s1 = await join(clinic_server, patient["token"])
    second, refused, s2 = await join(clinic_server, patient["token"])
    try:
        assert joined_first["type"] == "joined"
        assert refused["type"] == "error"
        assert refused["code"] == "forbidden"
        assert "in use" in refused["message"]
        await first.close()
        async with asyncio.timeout(10):  # the first is gone: the token may serve again
            while True:
                await second.send_str(json.dumps({"type": "join", "token": patient["token"]}))
                answer = json.loads((await second.receive()).data)
                if answer["type"] == "joined":
                    break
                await asyncio.sleep(0.05)
    finally:
        for ws, session in ((first, s1), (second, s2)):
            await ws.close()
            await session.close()


async def test_unjoined_sockets_from_one_address_are_capped(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    limit = SocketLimits().unjoined_per_address
    idle = [await clinic_server.session.ws_connect(clinic_server.signal_url) for _ in range(limit)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await clinic_server.session.ws_connect(clinic_server.signal_url)
        assert refused.value.status == 429
        # a joined socket no longer counts as unjoined: room for one more
        await idle[0].send_str(json.dumps({"type": "join", "token": await member_token(
            clinic_server, clinic.member.token)}))  # fmt: skip
        assert json.loads((await idle[0].receive(timeout=10)).data)["type"] == "joined"
        extra = await clinic_server.session.ws_connect(clinic_server.signal_url)
        await extra.close()
    finally:
        for ws in idle:
            await ws.close()


async def member_token(server: ClinicServer, login: str) -> str:
    room = server.clinics[0].meeting_room
    grant = await server.ok("POST", f"/rooms/{room}/join-token", login)
    return str(grant["token"])


async def test_a_full_server_budget_drops_the_client_with_most_unread_not_a_reader(
    clinic_server: ClinicServer, clinic: ClinicFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slow readers hold most of the server's budget (set small here, as on a server
    under attack) when a message for a client who reads would pass it: the slowest reader
    is dropped, not the recipient."""
    budget = OUTBOX_BYTES + OUTBOX_BYTES // 2
    monkeypatch.setattr(hub_module, "HUB_OUTBOX_BYTES", budget)
    hub = clinic_server.app[HUB]
    reader, me = await joined(clinic_server, clinic.admin.token)
    slow_a, a = await joined(clinic_server, clinic.member.token)
    slow_b, b = await joined(clinic_server, clinic.other_member.token)
    heard: list[dict[str, Any]] = []

    async def read() -> None:
        while (message := await reader.receive()).type is aiohttp.WSMsgType.TEXT:
            heard.append(json.loads(message.data))

    async def fill(target: dict[str, Any], until: int) -> None:
        offer = json.dumps({"type": "offer", "to": target["peer_id"], "sdp": "v" * 50_000})
        async with asyncio.timeout(30):  # the socket's kernel buffers fill first
            while hub.queued_bytes < until:
                await reader.send_str(offer)
                await asyncio.sleep(0.01)

    reading = asyncio.create_task(read())
    try:
        await fill(a, int(OUTBOX_BYTES * 0.8))
        await fill(b, budget - 40_000)
        # the slow reader B sends the reader a message that passes the server's budget
        await slow_b.send_str(
            json.dumps({"type": "offer", "to": me["peer_id"], "sdp": "w" * 60_000})
        )
        async with asyncio.timeout(10):
            while not any(h.get("from") == b["peer_id"] for h in heard):
                await asyncio.sleep(0.05)
        assert {"type": "peer_left", "peer_id": a["peer_id"]} in heard
        assert not reading.done()  # the reader stayed
        assert hub.queued_bytes <= budget
    finally:
        reading.cancel()
        for ws in (reader, slow_a, slow_b):
            await ws.close()
