"""Three `clinic serve --redis` processes behind Debian's nginx (the site the project
ships), two fake-HAL boxes in a call through it, and one process SIGKILLed mid-call (or
stopped by systemd's SIGTERM, as for an upgrade): the
boxes reconnect through nginx to the others, the call's media never stops, signalling
resumes with the same peer ids, and the alert webhook hears no false offline alert, then
exactly one when a box really goes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from tests.clinic_server import webhook_receiver
from tests.fallback.conftest import frame_times, largest_gap
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.mesh_peer import MeshPeer
from tests.processes import ClinicProcess, KioskProcess
from tests.scale.conftest import Scaled, ScaledFactory
from tests.scale.nginx import Nginx

HEARTBEAT_S = 2
PROXIED = ("--trusted-proxy", "127.0.0.1", "--webhook-network", "127.0.0.0/8")


@pytest.fixture
async def kiosks() -> AsyncIterator[dict[str, KioskProcess]]:
    made: dict[str, KioskProcess] = {}
    yield made
    for kiosk in made.values():
        kiosk.kill()


@pytest.fixture
async def nginx_for(tmp_path: Path) -> AsyncIterator[list[Nginx]]:
    made: list[Nginx] = []
    yield made
    for server in made:
        server.stop()


async def api(
    scaled: Scaled, url: str, method: str, path: str, body: Any = None, token: str | None = None
) -> Any:
    """Through nginx; as the clinic's admin unless told otherwise."""
    headers = {"Authorization": f"Bearer {token or scaled.clinic.admin.token}"}
    async with scaled.session.request(method, url + "/api/v1" + path, json=body,
                                      headers=headers) as response:  # fmt: skip
        assert response.status in (200, 201), (response.status, await response.text())
        return await response.json()


async def start_box(
    scaled: Scaled, url: str, name: str, tmp: Path, kiosks: dict[str, KioskProcess]
) -> str:
    clinic = scaled.clinic
    created = await api(scaled, url, "POST", f"/clinics/{clinic.clinic_id}/devices", {"name": name})
    await api(scaled, url, "PUT", f"/devices/{created['device_id']}/config", {
        "name": name, "heartbeat_seconds": HEARTBEAT_S,
        "buttons": {"1": {"action": "join", "room_id": clinic.meeting_room}},
        "video": {"width": 320, "height": 240, "fps": 15, "codec": "VP8"},
    })  # fmt: skip
    kiosk = KioskProcess(tmp / name, {
        "KIOSK_ENROLLMENT_FILE": str(tmp / "none"),
        "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
        "KIOSK_CLINIC_RECONNECT_MAX_S": "1",
        "KIOSK_CAMERA_WIDTH": "320", "KIOSK_CAMERA_HEIGHT": "240", "KIOSK_CAMERA_FPS": "15",
        "KIOSK_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    enrolled = await kiosk_cli(kiosk.env, "enroll", created["enrollment_code"], "--clinic-url", url)
    assert enrolled.returncode == 0, enrolled.stderr
    kiosks[name] = await kiosk.start()
    return str(created["device_id"])


async def in_call(kiosk: KioskProcess, frames: int = 10) -> dict[str, Any]:
    async def receiving() -> dict[str, Any] | None:
        status = await kiosk.status()
        peers = [p for p in status["peers"] if p["video_frames_received"] >= frames]
        return status if status["state"] == "in_call" and peers else None

    found: dict[str, Any] = await eventually(receiving, 30)
    return found


def process_of(scaled: Scaled, bus_id: str) -> ClinicProcess:
    """The `clinic serve` whose bus id this is (it names the OS process)."""
    os_pid = int(bus_id.split("-")[-2])
    return next(p for p in scaled.processes if p.proc is not None and p.proc.pid == os_pid)


async def members(db: redis.Redis, room_id: str) -> dict[str, str]:
    """The room's members over every process: peer id -> holding process."""
    held = await db.hgetall(f"clinic:room:{room_id}")
    return {peer: json.loads(member)["p"] for peer, member in held.items()}


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
async def test_a_process_killed_mid_call(
    how: signal.Signals,
    scaled: ScaledFactory,
    nginx_for: list[Nginx],
    kiosks: dict[str, KioskProcess],
    tmp_path: Path,
    loopback_ice: None,
) -> None:
    cluster = await scaled(3, PROXIED)
    nginx = Nginx(tmp_path / "nginx", [p.port for p in cluster.processes])
    nginx_for.append(nginx)
    nginx.start()
    url, clinic = nginx.url, cluster.clinic
    db = redis.from_url(cluster.redis.url, decode_responses=True)
    async with webhook_receiver() as (hook, alerts):
        await api(cluster, url, "PUT", f"/clinics/{clinic.clinic_id}/alert-webhook", {"url": hook})
        ids = {n: await start_box(cluster, url, n, tmp_path, kiosks) for n in ("exam-a", "exam-b")}
        for kiosk in kiosks.values():
            await kiosk.press(1)
        a = await in_call(kiosks["exam-a"])
        b = await in_call(kiosks["exam-b"])
        peer_ids = {a["peers"][0]["peer_id"], b["peers"][0]["peer_id"]}
        held = await members(db, clinic.meeting_room)
        assert set(held) == peer_ids
        # the process with exam-a's signalling (B's peer id is in A's list, A's in B's)
        victim = process_of(cluster, held[b["peers"][0]["peer_id"]])

        watching = asyncio.gather(*(frame_times(k, 14) for k in kiosks.values()))
        await asyncio.sleep(2)
        killed_at = await asyncio.to_thread(victim.kill, how)

        async def back() -> bool:
            statuses = [await k.status() for k in kiosks.values()]
            now = await members(db, clinic.meeting_room)
            return (
                all(s["clinic_connected"] and s["state"] == "in_call" for s in statuses)
                and set(now) == peer_ids  # the same peer ids, none on the dead process
                and all(victim.proc is not None and str(victim.proc.pid) not in p.split("-")
                        for p in now.values())
            )  # fmt: skip

        await eventually(back, 10)
        recovered_s = time.monotonic() - killed_at
        gaps = [largest_gap(times) for times in await watching]
        assert max(gaps) < 1.5, gaps  # the picture went on both ways
        assert recovered_s < 10

        # whoever joins now finds both boxes, by their old peer ids
        login = await api(cluster, url, "POST", "/auth/login", token="", body={
            "email": clinic.member.email, "password": clinic.member.password,
        })  # fmt: skip
        grant = await api(cluster, url, "POST", f"/rooms/{clinic.meeting_room}/join-token",
                          token=login["token"])  # fmt: skip
        newcomer = MeshPeer(cluster.session, grant["signal_url"], grant["token"], "Dr New")
        try:
            joined = await newcomer.join()
            assert {p["peer_id"] for p in joined["peers"]} == peer_ids
        finally:
            await newcomer.close()
        await asyncio.sleep(2 * HEARTBEAT_S)
        assert [x for x in alerts if x["event"] == "device_offline"] == [], alerts

        # exam-b really goes, and so does the process holding its channel: one alert
        holder = await db.get(f"clinic:device:{ids['exam-b']}")
        assert holder is not None
        kiosks["exam-b"].kill()
        await asyncio.to_thread(process_of(cluster, holder).kill, how)  # one is left to notice

        async def offline() -> list[dict[str, Any]]:
            return [x for x in alerts if x["event"] == "device_offline"]

        gone = await eventually(offline, 15)
        await asyncio.sleep(3)
        assert [x["device_id"] for x in await offline()] == [ids["exam-b"]], alerts
        assert gone
    await db.aclose()
    print(f"recovered in {recovered_s:.1f} s after {how.name}; largest media gaps {gaps}")
