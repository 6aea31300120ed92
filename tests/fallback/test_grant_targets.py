"""A fallback change reaches the devices it concerns, not the whole clinic, and a device's
reconnect reads its own row and nothing more: a host's new addresses go to the devices
that name it, a device's new key to itself, a revocation to the clinic's hosts; what the
grants share (the revoked list, the hosts' reports) is kept between config messages."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.signalling import tokens
from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer, statements
from tests.fallback.test_clinic_grants import enrolled, next_config

QUIET_S = 0.7  # long enough for a config already on its way to arrive


async def configs_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Any]:
    """The config messages that arrive within ``seconds``."""
    found = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads((await ws.receive()).data)
                if message["type"] == "config":
                    found.append(message)
    except TimeoutError:
        return found


def public_key() -> str:
    return tokens.public_key_pem(Ed25519PrivateKey.generate().public_key())


async def test_a_fallback_change_reaches_only_the_devices_it_concerns(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    ids, device_tokens = {}, {}
    for name in ("host", "a", "b", "bystander", "off"):
        ids[name], device_tokens[name] = await enrolled(clinic_server, clinic, name)
    hosts = {"host": [ids["host"]], "a": [ids["host"]], "b": [ids["host"]], "bystander": []}
    for name, device_id in ids.items():
        fallback = {"enabled": name in hosts, "hosts": hosts.get(name, [])}
        await clinic_server.ok("PUT", f"/devices/{device_id}/config", clinic.admin.token,
                               {"name": name, "fallback": fallback})  # fmt: skip
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    async with AsyncExitStack() as stack:
        ws = {}
        for name, token in device_tokens.items():
            ws[name] = await stack.enter_async_context(
                clinic_server.session.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
            )
            await next_config(ws[name])

        async def heard(names: set[str]) -> dict[str, list[Any]]:
            got = await asyncio.gather(*(configs_within(w, QUIET_S) for w in ws.values()))
            received = {n: c for n, c in zip(ws, got, strict=True) if c}
            assert set(received) == names, {n: len(c) for n, c in received.items()}
            return received

        # the host says where it listens: the devices that name it hear, no one else
        report = {"public_key": public_key(), "addresses": ["10.0.0.5"], "port": 9000}
        await ws["host"].send_str(json.dumps({"type": "heartbeat", "state": "idle",
                                              "fallback": report}))  # fmt: skip
        received = await heard({"host", "a", "b"})
        for name in ("a", "b"):
            assert received[name][-1]["fallback"]["hosts"] == [
                {"device_id": ids["host"], "addresses": ["10.0.0.5"], "port": 9000}
            ]
        # a device's new key: a credential for it alone
        keyed = {"type": "heartbeat", "state": "idle", "fallback": {"public_key": public_key()}}
        await ws["bystander"].send_str(json.dumps(keyed))
        received = await heard({"bystander"})
        assert received["bystander"][-1]["fallback"]["credential"]
        # the same report again: nobody
        await ws["host"].send_str(json.dumps({"type": "heartbeat", "state": "idle",
                                              "fallback": report}))  # fmt: skip
        await heard(set())
        # a revoked device: the clinic's hosts hear, to refuse it offline
        await clinic_server.ok("DELETE", f"/devices/{ids['off']}", clinic.admin.token)
        del ws["off"]
        received = await heard({"host"})
        assert received["host"][-1]["fallback"]["revoked"] == [ids["off"]]


async def test_a_reconnect_reads_only_the_devices_own_row(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    host_id, host_token = await enrolled(clinic_server, clinic, "host")
    boxes = [await enrolled(clinic_server, clinic, f"box {i}") for i in range(8)]
    for device_id, _ in [(host_id, host_token), *boxes]:
        await clinic_server.ok("PUT", f"/devices/{device_id}/config", clinic.admin.token,
                               {"name": device_id, "fallback": {"enabled": True,
                                                                "hosts": [host_id]}})  # fmt: skip
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH

    async def connect_all() -> None:
        for _, token in boxes:
            headers = {"Authorization": f"Bearer {token}"}
            async with clinic_server.session.ws_connect(url, headers=headers) as ws:
                grant = (await next_config(ws))["fallback"]
                assert [h["device_id"] for h in grant["hosts"]] == [host_id]

    await connect_all()  # the first time, what the grants share is read once
    with statements(clinic_server.storage, "SELECT") as reads:
        await connect_all()  # the fleet comes back after a clinic restart or a blip
    assert len(reads) == len(boxes), reads
