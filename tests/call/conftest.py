"""A managed fake-HAL kiosk in a meeting room's clinic, and participants to meet it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.mesh_peer import MeshPeer
from tests.processes import KioskProcess

BUTTONS = {
    "1": {"action": "join", "room_id": None},  # the meeting room, filled in below
    "2": {"action": "join", "room_id": None},  # the member's user room
    "3": {"action": "leave"},
    "4": {"action": "toggle_mute"},
    "5": {"action": "toggle_camera"},
    "6": {"action": "answer_next_patient"},
}


@dataclass
class Room:
    server: ClinicServer
    clinic: ClinicFixture
    kiosk: KioskProcess
    device_id: str
    participants: list[MeshPeer]

    async def participant(
        self, name: str, room_id: str | None = None, send: bool = True, relay_only: bool = False
    ) -> MeshPeer:
        grant = await self.server.grant_for(self.clinic, name, room_id or self.clinic.meeting_room)
        peer = MeshPeer(
            self.server.session, grant["signal_url"], grant["token"], name, send, relay_only
        )
        self.participants.append(peer)
        assert (await peer.join())["type"] == "joined"
        return peer

    async def call_with(self, name: str) -> tuple[MeshPeer, str]:
        """``name`` waits in the meeting room, button 1 brings the kiosk: the participant
        and the kiosk's peer id, once media flows."""
        peer = await self.participant(name)
        await self.kiosk.press(1)
        await self.wait_state("in_call")
        await peer.wait_for_media(remotes=1, frames=10)
        return peer, peer.any_remote()

    async def status(self) -> dict[str, Any]:
        return await self.kiosk.status()

    async def wait_state(self, state: str, timeout: float = 20) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            status = await self.kiosk.status()
            return status if status["state"] == state else None

        result: dict[str, Any] = await eventually(reached, timeout)
        return result


@pytest.fixture(autouse=True)
def _loopback(loopback_ice: None) -> None:
    """Every test here runs WebRTC on loopback."""


@contextlib.asynccontextmanager
async def make_room(
    server: ClinicServer,
    clinic: ClinicFixture,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    video: dict[str, Any] | None = None,
) -> AsyncIterator[Room]:
    """A fake-HAL kiosk enrolled in ``clinic``, button 1 its meeting room, 2 a user room;
    ``prefix`` runs it under another command (``ip netns exec NAME``)."""
    admin = clinic.admin.token
    created = await server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", admin, {"name": "Exam room 2"}
    )
    buttons = {k: dict(v) for k, v in BUTTONS.items()}
    buttons["1"]["room_id"] = clinic.meeting_room
    buttons["2"]["room_id"] = clinic.user_room
    await server.ok("PUT", f"/devices/{created['device_id']}/config", admin, {
        "name": "Exam room 2", "buttons": buttons, "heartbeat_seconds": 5,
        "video": video or {"width": 320, "height": 240, "fps": 15, "codec": "H264",
                           "max_bitrate_kbps": 500},
    })  # fmt: skip
    kiosk = KioskProcess(tmp_path / "state", {
        "KIOSK_ENROLLMENT_FILE": str(tmp_path / "none"),
        "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
        "KIOSK_CAMERA_WIDTH": "320", "KIOSK_CAMERA_HEIGHT": "240", "KIOSK_CAMERA_FPS": "15",
        **(env or {}),
    })  # fmt: skip
    kiosk.command = [*(prefix or []), *kiosk.command]
    enrolled = await kiosk_cli(
        kiosk.env, "enroll", created["enrollment_code"], "--clinic-url", server.url
    )
    assert enrolled.returncode == 0, enrolled.stderr
    await kiosk.start()

    async def configured() -> bool:
        return (await kiosk.status())["config_version"] == 2

    made = Room(server, clinic, kiosk, created["device_id"], [])
    try:
        await eventually(configured)
        yield made
    finally:
        for peer in made.participants:
            await peer.close()
        kiosk.kill()


@pytest.fixture
async def room(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> AsyncIterator[Room]:
    async with make_room(clinic_server, clinic, tmp_path) as made:
        yield made
