"""A fleet's heartbeats cost no database write each: what a connected device says is kept
in memory and written when it means something new, or once a minute; the admin's device
list shows the latest all the same."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from tests.clinic_server import ClinicFixture, ClinicServer
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
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DEVICES"):
            writes.append(statement)

    engine = clinic_server.storage._engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    url = clinic_server.url.replace("http", "ws", 1) + "/api/v1/device/channel"
    headers = {"Authorization": f"Bearer {enrolled['device_token']}"}

    async def listed() -> dict[str, Any]:
        devices = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/devices", admin)
        found: dict[str, Any] = next(d for d in devices if d["device_id"] == enrolled["device_id"])
        return found

    try:
        async with clinic_server.session.ws_connect(url, headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "config"
            for uptime in range(1, 21):  # 20 heartbeats that say nothing new
                await ws.send_str(heartbeat(uptime))
            await ws.send_str(json.dumps({"type": "bogus"}))  # answered after those 20
            assert (await ws.receive_json(timeout=5))["type"] == "error"
            assert len(writes) <= 2  # connecting, and the first heartbeat
            shown = await listed()
            assert shown["status"]["uptime_s"] == 20  # the latest, from memory
            assert shown["online"] is True

            await ws.send_str(heartbeat(21, state="in_call"))  # something new: written
            await ws.send_str(json.dumps({"type": "bogus"}))
            await ws.receive_json(timeout=5)
            assert len(writes) <= 3
            await ws.send_str(heartbeat(22, state="in_call"))

        async def saved_at_close() -> bool:  # gone: what it last said is in the database
            stored = await clinic_server.storage.device(enrolled["device_id"])
            return stored is not None and (stored.status or {}).get("uptime_s") == 22

        await eventually(saved_at_close)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
