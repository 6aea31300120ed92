"""The clinic's side of the fallback: credentials for the key a device reports, the
addresses of its hosts, and configs that name hosts it does not have."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.signalling import tokens
from kiosk.signalling.channel import CHANNEL_PATH
from kiosk.signalling.fallback_tokens import verify_credential
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_enrollment_api import HARDWARE, new_device


async def enrolled(server: ClinicServer, clinic: ClinicFixture, name: str) -> tuple[str, str]:
    created = await new_device(server, clinic, name)
    body = {"enrollment_code": created["enrollment_code"], "hardware": HARDWARE}
    answer = await server.ok("POST", "/enroll", body=body)
    return answer["device_id"], answer["device_token"]


async def next_config(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return await next_of(ws, "config")


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of ``kind`` (the waiting-area count comes in between)."""
    while True:
        message: dict[str, Any] = json.loads((await ws.receive(timeout=5)).data)
        if message["type"] == kind:
            return message


async def test_a_reported_key_gets_a_credential_and_hosts_their_addresses(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    host_id, host_token = await enrolled(clinic_server, clinic, "host")
    box_id, box_token = await enrolled(clinic_server, clinic, "box")
    for device_id in (host_id, box_id):
        await clinic_server.ok("PUT", f"/devices/{device_id}/config", clinic.admin.token, {
            "name": device_id,
            "buttons": {"1": {"action": "join", "room_id": clinic.meeting_room},
                        "2": {"action": "join", "room_id": clinic.user_room}},
            "fallback": {"enabled": True, "hosts": [host_id]},
        })  # fmt: skip
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    key = Ed25519PrivateKey.generate()
    public = tokens.public_key_pem(key.public_key())
    session = clinic_server.session
    async with (
        session.ws_connect(url, headers={"Authorization": f"Bearer {box_token}"}) as box,
        session.ws_connect(url, headers={"Authorization": f"Bearer {host_token}"}) as host,
    ):
        first = (await next_config(box))["fallback"]
        assert first["credential"] is None  # no key reported yet
        assert first["hosts"] == [{"device_id": host_id, "addresses": [], "port": 8765}]
        await next_config(host)

        for bad in ({"public_key": "not a key"}, {"public_key": public, "addresses": ["x; rm"]}):
            await box.send_str(json.dumps({"type": "heartbeat", "state": "idle", "fallback": bad}))
            error = await next_of(box, "error")
            assert (error["type"], error["code"]) == ("error", "bad_message")
        beat = {"type": "heartbeat", "state": "idle", "fallback": {"public_key": public}}
        await box.send_str(json.dumps(beat))
        grant = (await next_config(box))["fallback"]
        clinic_key = tokens.load_public_key(grant["clinic_public_key"])
        credential = verify_credential(grant["credential"], clinic_key)
        assert credential.device_id == box_id
        assert credential.clinic_id == clinic.clinic_id
        assert credential.rooms == {clinic.meeting_room, clinic.user_room}
        assert tokens.public_key_pem(credential.public_key) == public

        # the host reports where it listens: every device of the clinic hears at once
        host_key = tokens.public_key_pem(Ed25519PrivateKey.generate().public_key())
        await host.send_str(json.dumps({"type": "heartbeat", "state": "idle", "fallback": {
            "public_key": host_key, "addresses": ["10.0.0.5"], "port": 9000,
        }}))  # fmt: skip
        hosts = (await next_config(box))["fallback"]["hosts"]
        assert hosts == [{"device_id": host_id, "addresses": ["10.0.0.5"], "port": 9000}]

        # a revoked box: the host learns at once, to refuse its credential offline
        await clinic_server.ok("DELETE", f"/devices/{box_id}", clinic.admin.token)
        async with asyncio.timeout(5):  # after the configs already on their way
            while (await next_config(host))["fallback"]["revoked"] != [box_id]:
                pass


async def test_a_config_naming_a_host_of_no_such_device_is_invalid(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    device_id, _ = await enrolled(clinic_server, clinic, "box")
    status, answer = await clinic_server.call(
        "PUT", f"/devices/{device_id}/config", clinic.admin.token,
        {"name": "box", "fallback": {"enabled": True, "hosts": [device_id, "dv_nobody"]}},
    )  # fmt: skip
    assert status == 422
    assert answer["error"]["code"] == "invalid"
    assert "fallback.hosts.1: no device dv_nobody in this clinic" in answer["error"]["message"]
