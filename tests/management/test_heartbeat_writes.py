"""A fleet's heartbeats cost no database write each: what a connected device says is kept
in memory and written when it means something new, or once a minute; the admin's device
list shows the latest all the same."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer, statements
from tests.fallback.test_clinic_grants import enrolled, next_config
from tests.management.test_managed_kiosk import eventually

HARDWARE = {"model": "Raspberry Pi 4", "serial": "abc", "software_version": "0.1.0"}


def heartbeat(uptime: float, state: str = "idle") -> str:
    return json.dumps({"type": "heartbeat", "state": state, "uptime_s": uptime,
                       "peripherals": {"camera": "ok"}})  # fmt: skip


async def test_heartbeats_are_written_when_they_say_something_new(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    admin = clinic.admin.token
    created = await clinic_server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", admin, {"name": "Exam 1"}
    )
    enrolled = await clinic_server.ok("POST", "/enroll", body={
        "enrollment_code": created["enrollment_code"], "hardware": HARDWARE,
    })  # fmt: skip
    url = clinic_server.url.replace("http", "ws", 1) + "/api/v1/device/channel"
    headers = {"Authorization": f"Bearer {enrolled['device_token']}"}

    async def listed() -> dict[str, Any]:
        devices = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/devices", admin)
        found: dict[str, Any] = next(d for d in devices if d["device_id"] == enrolled["device_id"])
        return found

    with statements(clinic_server.storage, "UPDATE devices") as writes:
        async with clinic_server.session.ws_connect(url, headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "config"
            for uptime in range(1, 21):  # 20 heartbeats that say nothing new
                await ws.send_str(heartbeat(uptime))
            await ws.send_str(json.dumps({"type": "bogus"}))  # answered after those 20
            answer = await ws.receive_json(timeout=5)
            if answer["type"] == "waiting_area":  # the count told on connecting
                answer = await ws.receive_json(timeout=5)
            assert answer["type"] == "error"
            assert len(writes) <= 1  # the first heartbeat (with the next flush)
            shown = await listed()
            assert shown["status"]["uptime_s"] == 20  # the latest, from memory
            assert shown["online"] is True

            await ws.send_str(heartbeat(21, state="in_call"))  # something new: written
            await ws.send_str(json.dumps({"type": "bogus"}))
            await ws.receive_json(timeout=5)
            assert len(writes) <= 2
            await ws.send_str(heartbeat(22, state="in_call"))

        async def saved_at_close() -> bool:  # gone: what it last said is in the database
            stored = await clinic_server.storage.device(enrolled["device_id"])
            return stored is not None and (stored.status or {}).get("uptime_s") == 22

        await eventually(saved_at_close)


async def test_a_fleet_reconnecting_at_once_costs_a_few_commits(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    """After a clinic restart every box comes back within seconds: what they say is
    written together, once a second, not one transaction per box (SQLite commits a few
    hundred times a second at best)."""
    boxes = [await enrolled(clinic_server, clinic, f"box {i}") for i in range(30)]
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    with statements(clinic_server.storage, "UPDATE devices") as writes:
        async with AsyncExitStack() as stack:
            for _, token in boxes:
                headers = {"Authorization": f"Bearer {token}"}
                ws = await stack.enter_async_context(
                    clinic_server.session.ws_connect(url, headers=headers)
                )
                await next_config(ws)
                await ws.send_str(heartbeat(1))

            async def all_saved() -> bool:
                for device_id, _ in boxes:
                    stored = await clinic_server.storage.device(device_id)
                    if stored is None or stored.status is None:
                        return False
                return True

            await eventually(all_saved)
    assert 1 <= len(writes) <= 5, len(writes)
