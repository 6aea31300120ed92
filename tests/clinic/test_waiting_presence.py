"""Waiting that is true (PROTOCOL.md section 6, "Waiting area presence"): a patient is
listed while their page holds a session in their space, or within the grace after entering
or after the page went; a reload keeps their place; who is with them is listed; a patient
sent back waits from then; the clinic's devices hear the count. Real signalling sessions
(aiohttp WebSockets, as the patient's page holds them) against the real service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clinic.app import Options
from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer, clinic_server_at
from tests.fallback.test_clinic_grants import enrolled
from tests.management.test_managed_kiosk import eventually
from tests.mesh_peer import MeshPeer

GRACE_S = 1.5  # the service's 60 s, shortened for the test


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ClinicServer]:
    async with clinic_server_at(tmp_path / "c.db", Options(waiting_grace_s=GRACE_S)) as s:
        yield s


@pytest.fixture
async def peers() -> AsyncIterator[list[MeshPeer]]:
    made: list[MeshPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def listed(server: ClinicServer, clinic: ClinicFixture) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await server.ok(
        "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
    )
    return found


async def page(server: ClinicServer, entered: dict[str, Any], peers: list[MeshPeer]) -> MeshPeer:
    """The patient's page holding a signalling session in their space."""
    peer = MeshPeer(server.session, entered["signal_url"], entered["token"], "page")
    peers.append(peer)
    await peer.connect()
    await peer.send({"type": "join", "token": peer.token, "name": "page"})
    await peer.next_event("joined")
    return peer


async def until_listed(
    server: ClinicServer, clinic: ClinicFixture, **expected: Any
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        for p in await listed(server, clinic):
            if all(p.get(k) == v for k, v in expected.items()):
                return p
        return None

    found: dict[str, Any] = await eventually(check, 10)
    return found


async def test_listed_while_the_page_is_there_and_for_the_grace_after(
    server: ClinicServer, peers: list[MeshPeer]
) -> None:
    clinic = await server.make_clinic()
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    ghost = await server.ok("POST", enter, body={"name": "Ghost"})  # never connects
    ann = await server.ok("POST", enter, body={"name": "Ann"})
    first = await listed(server, clinic)
    assert [(p["name"], p["connected"], p["state"]) for p in first] == [
        ("Ghost", False, "waiting"), ("Ann", False, "waiting"),
    ]  # fmt: skip
    ann_page = await page(server, ann, peers)
    await until_listed(server, clinic, patient_id=ann["patient_id"], connected=True)
    await asyncio.sleep(GRACE_S + 0.5)
    assert [p["name"] for p in await listed(server, clinic)] == ["Ann"]  # the ghost is gone
    status, _ = await server.call(
        "POST", f"/waiting-area/{ghost['patient_id']}/join-token", clinic.member.token
    )
    assert status == 404  # nobody joins an empty space

    await ann_page.ws.close()  # type: ignore[union-attr]  # the tab closed
    await until_listed(server, clinic, patient_id=ann["patient_id"], connected=False)
    await asyncio.sleep(GRACE_S + 0.5)
    assert await listed(server, clinic) == []


async def test_a_reload_keeps_the_place(server: ClinicServer, peers: list[MeshPeer]) -> None:
    clinic = await server.make_clinic()
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    ann = await server.ok("POST", enter, body={"name": "Ann"})
    first_page = await page(server, ann, peers)
    before = await until_listed(server, clinic, patient_id=ann["patient_id"], connected=True)
    await server.ok("POST", enter, body={"name": "Bob"})
    await first_page.ws.close()  # type: ignore[union-attr]  # the reload: the page goes...
    await until_listed(server, clinic, patient_id=ann["patient_id"], connected=False)
    await page(server, ann, peers)  # ...and comes back with what it kept
    after = await until_listed(server, clinic, patient_id=ann["patient_id"], connected=True)
    assert after["waiting_since"] == before["waiting_since"]
    assert (await listed(server, clinic))[0]["name"] == "Ann"  # still first


async def test_in_consultation_with_whom_and_sent_back_waits_from_then(
    server: ClinicServer, peers: list[MeshPeer]
) -> None:
    clinic = await server.make_clinic()
    ann = await server.ok("POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter",
                          body={"name": "Ann"})  # fmt: skip
    await page(server, ann, peers)
    before = await until_listed(server, clinic, connected=True)
    grant = await server.ok("POST", f"/waiting-area/{ann['patient_id']}/join-token",
                            clinic.member.token)  # fmt: skip
    clinician = MeshPeer(server.session, grant["signal_url"], grant["token"], "Dr")
    peers.append(clinician)
    await clinician.connect()
    await clinician.send({"type": "join", "token": clinician.token, "name": "Dr"})
    await clinician.next_event("joined")
    seen = await until_listed(server, clinic, state="in_consultation")
    assert seen["with"] == ["Member"]  # the clinician's name, as their login has it
    await asyncio.sleep(1.1)  # a visible restart of the wait (the list has seconds)
    await clinician.ws.close()  # type: ignore[union-attr]
    back = await until_listed(server, clinic, state="waiting")
    assert back["with"] == []
    assert back["waiting_since"] > before["waiting_since"]


async def test_a_patient_who_leaves_is_gone_at_once(
    server: ClinicServer, peers: list[MeshPeer]
) -> None:
    clinic = await server.make_clinic()
    ann = await server.ok("POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter",
                          body={"name": "Ann"})  # fmt: skip
    await page(server, ann, peers)
    path = f"/waiting-area/{ann['patient_id']}"
    status, _ = await server.call("DELETE", path, clinic.member.token)
    assert status == 403  # only the patient
    await server.ok("DELETE", path, ann["token"])
    assert await listed(server, clinic) == []


async def test_the_clinics_devices_hear_the_waiting_count(
    server: ClinicServer, peers: list[MeshPeer]
) -> None:
    clinic = await server.make_clinic()
    _, token = await enrolled(server, clinic, "Exam room 1")
    url = server.url.replace("http", "ws", 1) + CHANNEL_PATH
    async with server.session.ws_connect(
        url, headers={"Authorization": f"Bearer {token}"}
    ) as channel:
        assert await next_count(channel) == 0  # told on connecting
        ann = await server.ok("POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter",
                              body={"name": "Ann"})  # fmt: skip
        assert await next_count(channel) == 1
        await page(server, ann, peers)
        await server.ok("DELETE", f"/waiting-area/{ann['patient_id']}", ann["token"])
        assert await next_count(channel) == 0


async def next_count(channel: aiohttp.ClientWebSocketResponse) -> int:
    while True:
        message = json.loads((await channel.receive(timeout=5)).data)
        if message["type"] == "waiting_area":
            count: int = message["waiting"]
            return count
