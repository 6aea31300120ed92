"""A device connected to one `clinic serve --redis` process, managed through another: a
real fake-HAL `kiosk run`, enrolled with process 0, driven through process 1."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic.test_waiting_presence import next_count
from tests.fallback.test_clinic_grants import HARDWARE, next_config
from tests.fallback.test_grant_targets import public_key
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import KioskProcess
from tests.scale.conftest import Scaled, ScaledFactory


@pytest.fixture
async def kiosks() -> AsyncIterator[list[KioskProcess]]:
    made: list[KioskProcess] = []
    yield made
    for kiosk in made:
        kiosk.kill()


async def box_on(scaled: Scaled, i: int, state: Path, kiosks: list[KioskProcess]) -> str:
    """A box enrolled with, and connected to, process i; its device id."""
    admin = scaled.clinic.admin.token
    created = await scaled.ok(i, "POST", f"/clinics/{scaled.clinic.clinic_id}/devices", admin,
                              {"name": "Exam room 4"})  # fmt: skip
    await scaled.ok(i, "PUT", f"/devices/{created['device_id']}/config", admin,
                    {"name": "Exam room 4", "heartbeat_seconds": 2})  # fmt: skip
    kiosk = KioskProcess(state, {"KIOSK_ENROLLMENT_FILE": str(state.parent / "none")})
    enrolled = await kiosk_cli(kiosk.env, "enroll", created["enrollment_code"],
                               "--clinic-url", scaled.processes[i].url)  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    kiosks.append(await kiosk.start())
    await eventually(lambda: _connected(kiosk), 15)
    return str(created["device_id"])


async def _connected(kiosk: KioskProcess) -> bool:
    return bool((await kiosk.status())["clinic_connected"])


async def listed(scaled: Scaled, i: int, device_id: str) -> dict[str, Any]:
    devices = await scaled.ok(i, "GET", f"/clinics/{scaled.clinic.clinic_id}/devices",
                              scaled.clinic.admin.token)  # fmt: skip
    found: dict[str, Any] = next(d for d in devices if d["device_id"] == device_id)
    return found


async def test_a_config_change_and_a_command_through_another_process(
    scaled: ScaledFactory, kiosks: list[KioskProcess], tmp_path: Path
) -> None:
    cluster = await scaled(2)
    device_id = await box_on(cluster, 0, tmp_path / "box", kiosks)
    kiosk, admin = kiosks[0], cluster.clinic.admin.token

    # process 1 holds no channel of it, yet lists it online, with what it said
    seen = await eventually(lambda: _online(cluster, 1, device_id), 10)
    assert seen["status"]["state"] == "idle"

    started = time.monotonic()
    put = await cluster.ok(1, "PUT", f"/devices/{device_id}/config", admin,
                           {"name": "Exam room 4b", "heartbeat_seconds": 2})  # fmt: skip

    async def configured() -> bool:
        return bool((await kiosk.status())["config_version"] == put["config_version"])

    await eventually(configured, 5)
    assert time.monotonic() - started < 1.0

    started = time.monotonic()
    command = await cluster.ok(1, "POST", f"/devices/{device_id}/commands", admin,
                               {"action": "identify"})  # fmt: skip
    path = f"/devices/{device_id}/commands/{command['command_id']}"

    async def answered() -> dict[str, Any] | None:
        got: dict[str, Any] = await cluster.ok(1, "GET", path, admin)
        return got if got["ok"] is not None else None

    result = await eventually(answered, 5)
    assert result["ok"] is True, result
    assert time.monotonic() - started < 1.0


async def _online(scaled: Scaled, i: int, device_id: str) -> dict[str, Any] | None:
    device = await listed(scaled, i, device_id)
    return device if device["online"] and device["status"] else None


async def test_revoking_through_another_process_closes_the_channel(
    scaled: ScaledFactory, kiosks: list[KioskProcess], tmp_path: Path
) -> None:
    cluster = await scaled(2)
    device_id = await box_on(cluster, 0, tmp_path / "box", kiosks)
    await cluster.ok(1, "DELETE", f"/devices/{device_id}", cluster.clinic.admin.token)

    async def unenrolled() -> bool:
        return not (await kiosks[0].status())["enrolled"]

    await eventually(unenrolled, 10)


async def test_a_lan_host_and_the_devices_naming_it_on_different_processes(
    scaled: ScaledFactory,
) -> None:
    """The host's new addresses reach a device naming it through another process; a
    revocation made through that process reaches the host."""
    cluster = await scaled(2)
    clinic, admin = cluster.clinic, cluster.clinic.admin.token
    ids, tokens = {}, {}
    for name in ("host", "box", "gone"):
        created = await cluster.ok(0, "POST", f"/clinics/{clinic.clinic_id}/devices", admin,
                                   {"name": name})  # fmt: skip
        body = {"enrollment_code": created["enrollment_code"], "hardware": HARDWARE}
        answer = await cluster.ok(0, "POST", "/enroll", body=body)
        ids[name], tokens[name] = answer["device_id"], answer["device_token"]
    for name in ids:
        fallback = {"enabled": True, "hosts": [ids["host"]]}
        await cluster.ok(0, "PUT", f"/devices/{ids[name]}/config", admin,
                         {"name": name, "fallback": fallback})  # fmt: skip
    where = {"host": 0, "box": 1, "gone": 1}
    async with AsyncExitStack() as stack:
        ws = {}
        for name, i in where.items():
            url = cluster.processes[i].url.replace("http", "ws", 1) + CHANNEL_PATH
            ws[name] = await stack.enter_async_context(cluster.session.ws_connect(
                url, headers={"Authorization": f"Bearer {tokens[name]}"}))  # fmt: skip
            await next_config(ws[name])
        report = {"public_key": public_key(), "addresses": ["10.0.0.5"], "port": 9000}
        await ws["host"].send_str(json.dumps({"type": "heartbeat", "state": "idle",
                                              "fallback": report}))  # fmt: skip
        heard = await next_config(ws["box"])
        assert heard["fallback"]["hosts"] == [
            {"device_id": ids["host"], "addresses": ["10.0.0.5"], "port": 9000}
        ]
        await cluster.ok(1, "DELETE", f"/devices/{ids['gone']}", admin)
        while ids["gone"] not in (await next_config(ws["host"]))["fallback"]["revoked"]:
            pass


async def test_the_waiting_count_reaches_devices_on_every_process(
    scaled: ScaledFactory,
) -> None:
    cluster = await scaled(2)
    clinic, admin = cluster.clinic, cluster.clinic.admin.token
    created = await cluster.ok(0, "POST", f"/clinics/{clinic.clinic_id}/devices", admin,
                               {"name": "Exam room 5"})  # fmt: skip
    body = {"enrollment_code": created["enrollment_code"], "hardware": HARDWARE}
    token = (await cluster.ok(0, "POST", "/enroll", body=body))["device_token"]
    url = cluster.processes[0].url.replace("http", "ws", 1) + CHANNEL_PATH
    async with cluster.session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws:
        assert await next_count(ws) == 0
        await cluster.ok(1, "POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter",
                         body={"name": "Ann"})  # fmt: skip
        assert await next_count(ws) == 1
