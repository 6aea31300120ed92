"""The clinic's alert webhook, received by a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clinic.app import Options
from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer, clinic_server_at, webhook_receiver
from tests.fallback.test_clinic_grants import enrolled, next_config
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import KioskProcess


@pytest.fixture
async def clinic_server(tmp_path: Path) -> AsyncIterator[ClinicServer]:
    """The operator let alerts reach this machine (`--webhook-network 127.0.0.0/8`): a
    webhook is refused loopback otherwise (tests/security/test_webhook_targets.py)."""
    options = Options(webhook_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    async with clinic_server_at(tmp_path / "clinic.db", options) as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    async with webhook_receiver() as hook:
        yield hook


async def test_missing_camera_and_going_offline_are_alerted(
    clinic_server: ClinicServer,
    clinic: ClinicFixture,
    receiver: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    url, received = receiver
    admin = clinic.admin.token
    await clinic_server.ok("PUT", f"/clinics/{clinic.clinic_id}/alert-webhook", admin, {"url": url})
    created = await clinic_server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", admin, {"name": "Exam 4"}
    )
    await clinic_server.ok("PUT", f"/devices/{created['device_id']}/config", admin,
                           {"name": "Exam 4", "heartbeat_seconds": 2})  # fmt: skip
    kiosk = KioskProcess(tmp_path / "state", {
        "KIOSK_ENROLLMENT_FILE": str(tmp_path / "none"),
        "KIOSK_FAKE_FAULTS": '{"camera": "missing"}',
    })  # fmt: skip
    try:
        enrolled = await kiosk_cli(kiosk.env, "enroll", created["enrollment_code"],
                                   "--clinic-url", clinic_server.url)  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        await kiosk.start()

        async def alerted(event: str) -> dict[str, Any] | None:
            return next((a for a in received if a["event"] == event), None)

        problem = await eventually(lambda: alerted("peripheral_problem"))
        assert problem["device_id"] == created["device_id"]
        assert problem["device_name"] == "Exam 4"
        assert problem["detail"] == "camera missing"
        assert problem["clinic_id"] == clinic.clinic_id

        kiosk.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        offline = await eventually(lambda: alerted("device_offline"), timeout=5)
        assert offline["device_id"] == created["device_id"]
        await asyncio.sleep(0.6)  # one sweep later: still one alert, not one per sweep
        assert [a["event"] for a in received].count("device_offline") == 1
    finally:
        kiosk.kill()


async def test_a_channel_back_within_an_interval_is_no_offline_alert(
    clinic_server: ClinicServer,
    clinic: ClinicFixture,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    """A clinic restart or a blip: the box reconnects in seconds, and nobody is paged."""
    url, received = receiver
    admin = clinic.admin.token
    await clinic_server.ok("PUT", f"/clinics/{clinic.clinic_id}/alert-webhook", admin, {"url": url})
    device_id, token = await enrolled(clinic_server, clinic, "Exam 5")
    await clinic_server.ok("PUT", f"/devices/{device_id}/config", admin,
                           {"name": "Exam 5", "heartbeat_seconds": 2})  # fmt: skip
    channel = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    headers = {"Authorization": f"Bearer {token}"}
    beat = {"type": "heartbeat", "state": "idle"}
    for _ in range(3):  # closed, and back 1 s later
        async with clinic_server.session.ws_connect(channel, headers=headers) as ws:
            await next_config(ws)
            await ws.send_json(beat)
        await asyncio.sleep(1)
    async with clinic_server.session.ws_connect(channel, headers=headers) as ws:
        await next_config(ws)
        await ws.send_json(beat)
        await asyncio.sleep(2.5)  # longer than an interval since the last close
        assert received == []

    # gone for good: alerted once the interval has passed
    async def first() -> dict[str, Any] | None:
        return next(iter(received), None)

    offline = await eventually(first, timeout=5)
    assert (offline["event"], offline["detail"]) == ("device_offline", "channel closed")
