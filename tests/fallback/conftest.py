"""A clinic service in a process of its own (so a test can kill it) and fake-HAL kiosks
enrolled with it, some of them LAN fallback hosts; loopback only."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.clinic_server import ClinicFixture, clinic_server_at, free_port
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import ClinicProcess, KioskProcess


@dataclass
class Lan:
    """One clinic, its meeting room, and kiosks by name."""

    tmp: Path
    clinic: ClinicProcess
    fixture: ClinicFixture
    device_ids: dict[str, str]
    codes: dict[str, str]
    hosts: list[str]
    kiosks: dict[str, KioskProcess] = field(default_factory=dict)

    async def start_kiosk(self, name: str) -> KioskProcess:
        env = {
            "KIOSK_ENROLLMENT_FILE": str(self.tmp / "none"),
            "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
            "KIOSK_FALLBACK_LISTEN_HOST": "127.0.0.1",
            "KIOSK_CLINIC_RECONNECT_MAX_S": "1",
            "KIOSK_CAMERA_WIDTH": "320", "KIOSK_CAMERA_HEIGHT": "240", "KIOSK_CAMERA_FPS": "15",
            "KIOSK_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        if name in self.hosts:
            env["KIOSK_FALLBACK_PORT"] = str(free_port())
        kiosk = KioskProcess(self.tmp / f"state-{name}", env)
        self.kiosks[name] = kiosk
        enrolled = await kiosk_cli(kiosk.env, "enroll", self.codes[name],
                                   "--clinic-url", self.clinic.url)  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        await kiosk.start()
        return kiosk

    async def admin_get(self, path: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.fixture.admin.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.clinic.url + "/api/v1" + path, headers=headers) as response,
        ):
            return response.status, await response.json()

    async def ready(self, timeout: float = 20) -> None:
        """Every kiosk holds a credential and knows an address of every host."""

        async def all_ready() -> bool:
            for kiosk in self.kiosks.values():
                fallback = (await kiosk.status())["fallback"]
                if not fallback or fallback["credential_expires_at"] is None:
                    return False
                if len([h for h in fallback["hosts"] if h["addresses"]]) < len(self.hosts):
                    return False
            return True

        await eventually(all_ready, timeout)

    async def signalling(self, name: str, mode: str, timeout: float = 10) -> None:
        async def reached() -> bool:
            return bool((await self.kiosks[name].status())["signalling"] == mode)

        await eventually(reached, timeout)

    async def in_call_with(self, name: str, others: int, frames: int = 10) -> dict[str, Any]:
        """``name``'s status once it receives video from ``others`` peers."""

        async def receiving() -> dict[str, Any] | None:
            status = await self.kiosks[name].status()
            peers = [p for p in status["peers"] if p["video_frames_received"] >= frames]
            return status if status["state"] == "in_call" and len(peers) >= others else None

        result: dict[str, Any] = await eventually(receiving, 30)
        return result

    def close(self) -> None:
        for kiosk in self.kiosks.values():
            kiosk.kill()
        self.clinic.kill()


async def make_lan(tmp: Path, names: list[str], hosts: list[str]) -> Lan:
    """A clinic with kiosks ``names`` in one meeting room; ``hosts`` are fallback hosts.
    The caller closes it, also when this fails half-way."""
    db = tmp / "clinic.db"
    async with clinic_server_at(db) as server:
        fixture = await server.make_clinic("Lan clinic")
        admin = fixture.admin.token
        path = f"/clinics/{fixture.clinic_id}/devices"
        created = {n: await server.ok("POST", path, admin, {"name": n}) for n in names}
        ids = {n: c["device_id"] for n, c in created.items()}
        for name in names:
            await server.ok("PUT", f"/devices/{ids[name]}/config", admin, {
                "name": name,
                "buttons": {"1": {"action": "join", "room_id": fixture.meeting_room},
                            "3": {"action": "leave"}},
                "video": {"width": 320, "height": 240, "fps": 15, "codec": "VP8"},
                "fallback": {"enabled": True, "hosts": [ids[h] for h in hosts]},
            })  # fmt: skip
    codes = {n: c["enrollment_code"] for n, c in created.items()}
    return Lan(tmp, ClinicProcess(db, free_port()), fixture, ids, codes, hosts)


async def start_lan(lan: Lan) -> Lan:
    await lan.clinic.start()
    for name in lan.codes:
        await lan.start_kiosk(name)
    await lan.ready()
    return lan


async def frame_times(kiosk: KioskProcess, seconds: float) -> list[float]:
    """When the first peer's decoded-frame count of ``kiosk`` went up, for ``seconds``."""
    times: list[float] = []
    last = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frames = (await kiosk.status())["peers"][0]["video_frames_received"]
        if frames > last:
            times.append(time.monotonic())
            last = frames
        await asyncio.sleep(0.01)
    return times


def largest_gap(times: list[float]) -> float:
    return max(b - a for a, b in itertools.pairwise(times))


LanFactory = Callable[..., Awaitable[Lan]]


@pytest.fixture
async def lan(tmp_path: Path) -> AsyncIterator[LanFactory]:
    made: list[Lan] = []

    async def make(names: list[str], hosts: list[str]) -> Lan:
        net = await make_lan(tmp_path, names, hosts)
        made.append(net)
        return await start_lan(net)

    yield make
    for net in made:
        net.close()
