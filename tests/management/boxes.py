"""A fake-HAL box enrolled with a real clinic service, ready to be started as `kiosk run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import KioskProcess

HEARTBEAT_S = 2


@dataclass
class EnrolledBox:
    server: ClinicServer
    clinic: ClinicFixture
    device_id: str
    process: KioskProcess

    @property
    def config_path(self) -> str:
        return f"/devices/{self.device_id}/config"

    async def listed(self) -> dict[str, Any] | None:
        """The box as the admin's device list shows it."""
        devices = await self.server.ok(
            "GET", f"/clinics/{self.clinic.clinic_id}/devices", self.clinic.admin.token
        )
        return next((d for d in devices if d["device_id"] == self.device_id), None)

    async def put_config(self, **changes: Any) -> int:
        config = {"name": "Exam room 2", "heartbeat_seconds": HEARTBEAT_S, **changes}
        answer = await self.server.ok("PUT", self.config_path, self.clinic.admin.token, config)
        version: int = answer["config_version"]
        return version

    async def idle(self, timeout: float = 10) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            status = await self.process.status()
            return status if status["state"] == "idle" and status["clinic_connected"] else None

        found: dict[str, Any] = await eventually(check, timeout)
        return found


async def enrolled_box(
    server: ClinicServer,
    clinic: ClinicFixture,
    state_dir: Path,
    env: dict[str, str] | None = None,
    fallback: bool = False,
) -> EnrolledBox:
    """A device made by the admin and enrolled with `kiosk enroll` (not started)."""
    created = await server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token, {"name": "Exam room 2"}
    )
    proc = KioskProcess(
        state_dir,
        {"KIOSK_ENROLLMENT_FILE": str(state_dir.parent / "no-enrollment-file"), **(env or {})},
    )
    box = EnrolledBox(server, clinic, created["device_id"], proc)
    buttons = {"1": {"action": "join", "room_id": clinic.meeting_room}, "3": {"action": "leave"}}
    changes: dict[str, Any] = {"buttons": buttons}
    if fallback:
        changes["fallback"] = {"enabled": True, "hosts": [], "port": 8765}
    await box.put_config(**changes)
    enrolled = await kiosk_cli(
        proc.env, "enroll", created["enrollment_code"], "--clinic-url", server.url
    )
    assert enrolled.returncode == 0, enrolled.stderr
    return box
