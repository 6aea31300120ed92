"""A fake-HAL `kiosk run` managed by a real clinic service, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from clinic.web import CHANNELS
from kiosk.signalling.channel import config_message
from tests.clinic_server import ClinicFixture, ClinicServer, free_port
from tests.processes import KioskProcess

HEARTBEAT_S = 2


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    """Poll ``check`` until it returns something truthy; that value."""
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(0.05)
        return value


async def kiosk_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The `kiosk` command, without blocking the loop that serves the clinic."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kiosk.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def kiosks(tmp_path: Path) -> AsyncIterator[list[KioskProcess]]:
    made: list[KioskProcess] = []
    yield made
    for proc in made:
        proc.kill()


async def test_enroll_manage_and_revoke(
    clinic_server: ClinicServer, clinic: ClinicFixture, kiosks: list[KioskProcess], tmp_path: Path
) -> None:
    admin = clinic.admin.token
    created = await clinic_server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", admin, {"name": "Exam room 2"}
    )
    device_id = created["device_id"]
    config_path = f"/devices/{device_id}/config"
    await clinic_server.ok("PUT", config_path, admin, {
        "name": "Exam room 2", "heartbeat_seconds": HEARTBEAT_S,
    })  # fmt: skip

    proc = KioskProcess(tmp_path / "state", {"KIOSK_ENROLLMENT_FILE": str(tmp_path / "none")})
    kiosks.append(proc)
    enrolled = await kiosk_cli(proc.env, "enroll", created["enrollment_code"],
                         "--clinic-url", clinic_server.url)  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout) == {"device_id": device_id, "clinic_id": clinic.clinic_id}
    credential = proc.state_dir / "credential.json"
    assert credential.stat().st_mode & 0o777 == 0o600

    await proc.start()

    async def listed() -> dict[str, Any] | None:
        devices = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/devices", admin)
        return next((d for d in devices if d["device_id"] == device_id), None)

    async def online() -> dict[str, Any] | None:
        device = await listed()
        return device if device and device["online"] and device["status"] else None

    shown = await eventually(online)
    assert shown["enrolled"] is True
    assert shown["status"]["peripherals"] == {
        "camera": "ok", "microphone": "ok", "speaker": "ok", "buttons": "ok", "leds": "ok",
    }  # fmt: skip
    assert shown["status"]["state"] == "idle"
    assert shown["status"]["software_version"]
    assert (await proc.status())["enrolled"] is True

    # a config change reaches the device within a second
    new = {
        "name": "Exam room 2",
        "heartbeat_seconds": HEARTBEAT_S,
        "buttons": {"1": {"action": "join", "room_id": clinic.meeting_room},
                    "4": {"action": "toggle_mute"}},
    }  # fmt: skip
    version = (await clinic_server.ok("PUT", config_path, admin, new))["config_version"]
    began = time.monotonic()

    async def applied() -> bool:
        return (await proc.status())["config_version"] == version

    await eventually(applied, timeout=5)
    assert time.monotonic() - began < 1.0
    await proc.press(4)  # now a mute button
    assert (await proc.status())["muted"] is True

    # a command runs and its result is visible to the admin
    command = await clinic_server.ok(
        "POST", f"/devices/{device_id}/commands", admin, {"action": "identify"}
    )

    async def answered() -> dict[str, Any] | None:
        result = await clinic_server.ok(
            "GET", f"/devices/{device_id}/commands/{command['command_id']}", admin
        )
        return result if result["ok"] is not None else None

    result = await eventually(answered)
    assert result["ok"] is True
    assert (await proc.status())["leds"]["ready"] == "blink(4)"

    # an invalid config pushed to the device is refused; the last good one stays
    channels = clinic_server.app[CHANNELS]
    await channels.send(device_id, config_message(version + 1, {"name": "", "buttons": 7}))

    async def refused() -> dict[str, Any] | None:
        device = await listed()
        return device if device and device["status"].get("config_error") else None

    shown = await eventually(refused, timeout=3 * HEARTBEAT_S)
    assert "name" in shown["status"]["config_error"]
    assert (await proc.status())["config_version"] == version

    # killed: offline within two heartbeat intervals
    proc.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
    proc.proc.wait()  # type: ignore[union-attr]
    killed = time.monotonic()

    async def offline() -> bool:
        device = await listed()
        return device is not None and not device["online"]

    await eventually(offline, timeout=2 * HEARTBEAT_S + 1)
    assert time.monotonic() - killed <= 2 * HEARTBEAT_S + 1

    # started again, it comes back with the cached config; revoked, it forgets everything
    again = KioskProcess(proc.state_dir, {"KIOSK_ENROLLMENT_FILE": str(tmp_path / "none")})
    kiosks.append(again)
    await again.start()
    assert (await again.status())["config_version"] == version
    await eventually(online)
    device_token = json.loads(credential.read_text())["device_token"]
    rooms_path = f"/clinics/{clinic.clinic_id}/rooms"
    assert await clinic_server.ok("GET", rooms_path, device_token)  # a device sees its rooms
    await clinic_server.ok("DELETE", f"/devices/{device_id}", admin)

    async def forgotten() -> bool:
        status = await again.status()
        return status["state"] == "not_enrolled" and not status["enrolled"]

    await eventually(forgotten)
    assert not credential.exists()
    assert (await again.status())["leds"]["ready"] == "pulse(0.5)"
    status, _ = await clinic_server.call("GET", rooms_path, device_token)
    assert status == 401  # the token stopped working at once
    assert again.stop()[0] == 0


async def test_enroll_with_a_bad_code_exits_1(clinic_server: ClinicServer, tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_STATE_DIR": str(tmp_path), "KIOSK_CONFIG": os.devnull}
    result = await kiosk_cli(env, "enroll", "1111222233334444", "--clinic-url", clinic_server.url)
    assert result.returncode == 1
    assert "invalid_code" in result.stderr
    assert "wrong, used or expired" in result.stderr
    assert not (tmp_path / "credential.json").exists()


async def test_first_boot_enrollment_from_a_file(
    clinic_server: ClinicServer, clinic: ClinicFixture, kiosks: list[KioskProcess], tmp_path: Path
) -> None:
    created = await clinic_server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token, {"name": "Box"}
    )
    bad = tmp_path / "bad-enroll.toml"
    bad.write_text(f'code = "0000000000000000"\nclinic_url = "{clinic_server.url}"\n')
    failing = KioskProcess(tmp_path / "s1", {"KIOSK_ENROLLMENT_FILE": str(bad)})
    kiosks.append(failing)
    await failing.start()
    note = bad.with_name(bad.name + ".error")
    await eventually(lambda: asyncio.sleep(0, note.exists()))
    assert bad.exists()
    assert "wrong, used or expired" in note.read_text()

    good = tmp_path / "enroll.toml"
    good.write_text(f'code = "{created["enrollment_code"]}"\nclinic_url = "{clinic_server.url}"\n')
    booting = KioskProcess(tmp_path / "s2", {"KIOSK_ENROLLMENT_FILE": str(good)})
    kiosks.append(booting)
    await booting.start()

    async def enrolled() -> bool:
        return bool((await booting.status())["enrolled"])

    await eventually(enrolled)
    assert not good.exists()
    assert (await booting.status())["device_id"] == created["device_id"]


async def forward(port: int, target: str) -> asyncio.Server:
    """A TCP forwarder from 127.0.0.1:``port`` to ``target`` (a URL's host:port)."""
    host, _, target_port = target.split("//")[1].partition(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(serve, "127.0.0.1", port)


async def test_first_boot_enrollment_waits_for_a_clinic_that_does_not_answer_yet(
    clinic_server: ClinicServer, clinic: ClinicFixture, kiosks: list[KioskProcess], tmp_path: Path
) -> None:
    created = await clinic_server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token, {"name": "Box"}
    )
    port = free_port()
    file = tmp_path / "enroll.toml"
    file.write_text(
        f'code = "{created["enrollment_code"]}"\nclinic_url = "http://127.0.0.1:{port}"\n'
    )
    booting = KioskProcess(tmp_path / "state", {"KIOSK_ENROLLMENT_FILE": str(file)})
    kiosks.append(booting)
    await booting.start()
    note = file.with_name(file.name + ".error")
    await eventually(lambda: asyncio.sleep(0, note.exists()))
    assert "cannot reach the clinic" in note.read_text()
    assert (await booting.status())["enrolled"] is False

    # the network comes up: the next attempt enrolls, and the file and its note go
    server = await forward(port, clinic_server.url)
    try:

        async def enrolled() -> bool:
            return bool((await booting.status())["enrolled"])

        await eventually(enrolled, timeout=30)
    finally:
        server.close()
    assert not file.exists()
    assert not note.exists()
    assert (await booting.status())["device_id"] == created["device_id"]
