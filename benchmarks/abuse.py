"""What anonymous attackers can make a server hold, and what a login flood does to a real
member's login. Prints one JSON object.

- clinic_rss: `clinic serve` in its own process; 20 attackers, each from its own address
  (127.0.0.x) with a leaked guest link to its own room, join twice: one socket that never
  reads, one that sends it 200 offers of the largest frame (64 KiB). RSS of the service
  before, at its peak during the attack, 5 s after, and at the peak of a second, identical
  attack (flat: no growth from one attack to the next). Target: peak <= 64 MiB above
  baseline. Meanwhile a 2-peer call (320x240@30) in another room: frames per second
  received over the attack (target >= 25).
- fallback_rss: a LAN fallback host (`FallbackServer`, as a box runs it) in its own process;
  20 attackers with real patient tokens of its clinic (refused there) and sockets that never
  join, each sending 200 largest frames without reading. Target: peak <= 32 MiB above baseline.
- login: a member logs in 30 times while 1,000 wrong guesses arrive, 50 at a time, from one
  address, and again from 1,000 addresses (a botnet, through a trusted proxy): p50/p99 of
  the member's logins and how many succeeded. Target p99 <= 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.call.ice import restrict_host_addresses
from kiosk.signalling import tokens
from kiosk.signalling.messages import MAX_FRAME_BYTES, Role
from tests.clinic_server import ClinicFixture, clinic_server_at, free_port
from tests.mesh_peer import MeshPeer
from tests.processes import ClinicProcess

ATTACKERS = 20
FRAMES = 200
MIB = 1024 * 1024
SDP = "v" * (MAX_FRAME_BYTES - 200)  # the largest offer a frame holds


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """The highest RSS of a process while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, rss_mib(pid)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(0.05)

    def stop(self) -> float:
        self._task.cancel()
        return round(self.peak, 1)


def session_from(address: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def slow_pair(url: str, tokens_: list[str], address: str) -> list[Any]:
    """Two sockets from ``address``: one never reads, the other floods it."""
    session = session_from(address)
    sockets = []
    try:
        reader = await session.ws_connect(url, max_msg_size=0)
        sockets.append(reader)
        await reader.send_str(json.dumps({"type": "join", "token": tokens_[0]}))
        joined = json.loads((await reader.receive(timeout=10)).data)
        sender = await session.ws_connect(url, max_msg_size=0)
        sockets.append(sender)
        await sender.send_str(json.dumps({"type": "join", "token": tokens_[1]}))
        target = joined.get("peer_id", "nobody")
        offer = json.dumps({"type": "offer", "to": target, "sdp": SDP})
        for _ in range(FRAMES):
            await sender.send_str(offer)
    except (aiohttp.ClientError, ConnectionError, TimeoutError):
        pass  # refused or dropped: what the limits are for
    return [session, *sockets]


async def unjoined_flood(url: str, patient_token: str, address: str) -> list[Any]:
    """A refused patient join, then sockets that never join, flooding without reading."""
    session = session_from(address)
    sockets: list[Any] = []
    try:
        ws = await session.ws_connect(url)
        await ws.send_str(json.dumps({"type": "join", "token": patient_token}))
        sockets.append(ws)
        for _ in range(2):
            ws = await session.ws_connect(url, max_msg_size=0)
            sockets.append(ws)
            frame = json.dumps({"type": "offer", "to": "x", "sdp": SDP})
            for _ in range(FRAMES // 2):
                await ws.send_str(frame)
    except (aiohttp.ClientError, ConnectionError, TimeoutError):
        pass
    return [session, *sockets]


async def close_all(held: list[list[Any]]) -> None:
    for items in held:
        for item in reversed(items):
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
                await asyncio.wait_for(item.close(), 2)


async def attack_waves(
    pid: int, attack: Callable[[], Awaitable[list[list[Any]]]]
) -> dict[str, float]:
    """Two waves of ``attack()``; the RSS figures of the process ``pid``."""
    baseline = rss_mib(pid)
    figures: dict[str, float] = {"baseline_mib": round(baseline, 1)}
    for wave in (1, 2):
        sampler = Sampler(pid)
        held = await attack()
        await asyncio.sleep(3)  # sockets held open, unread
        await close_all(held)
        figures[f"peak_wave{wave}_mib"] = sampler.stop()
        await asyncio.sleep(5)
        figures[f"after_wave{wave}_mib"] = round(rss_mib(pid), 1)
    figures["peak_growth_mib"] = round(
        max(figures["peak_wave1_mib"], figures["peak_wave2_mib"]) - baseline, 1
    )
    figures["wave2_minus_wave1_mib"] = round(
        figures["after_wave2_mib"] - figures["after_wave1_mib"], 1
    )
    return figures


async def prepare_clinic(db: Path) -> tuple[ClinicFixture, list[str]]:
    """A clinic with ATTACKERS + 1 meeting rooms (the last one for the real call)."""
    async with clinic_server_at(db) as server:
        clinic = await server.make_clinic("Abused clinic")
        rooms = []
        for i in range(ATTACKERS + 1):
            body = {"kind": "meeting_room", "name": f"R{i}"}
            path = f"/clinics/{clinic.clinic_id}/rooms"
            room = await server.ok("POST", path, clinic.admin.token, body)
            rooms.append(room["id"])
    return clinic, rooms


async def api(
    session: aiohttp.ClientSession, base: str, method: str, path: str, token: str = "",
    body: Any = None, headers: dict[str, str] | None = None,
) -> tuple[int, Any]:  # fmt: skip
    all_headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, f"{base}/api/v1{path}", json=body,
                               headers=all_headers | (headers or {})) as response:  # fmt: skip
        return response.status, await response.json()


async def login(session: aiohttp.ClientSession, base: str, email: str, password: str) -> str:
    status, body = await api(session, base, "POST", "/auth/login", body={
        "email": email, "password": password})  # fmt: skip
    assert status == 200, body
    return str(body["token"])


async def clinic_rss(tmp: Path) -> dict[str, Any]:
    clinic, rooms = await prepare_clinic(tmp / "clinic.db")
    service = ClinicProcess(tmp / "clinic.db", free_port())
    await service.start()
    assert service.proc is not None
    base, url = service.url, service.url.replace("http", "ws") + "/api/v1/signal"
    peers: list[MeshPeer] = []
    try:
        async with aiohttp.ClientSession() as session:
            member = await login(session, base, clinic.member.email, clinic.member.password)
            links = []
            for room in rooms[:ATTACKERS]:
                _, link = await api(session, base, "POST", f"/rooms/{room}/guest-links", member)
                links.append(link["guest_token"])
            for name in ("a", "b"):
                _, grant = await api(session, base, "POST", f"/rooms/{rooms[-1]}/join-token",
                                     member)  # fmt: skip
                peer = MeshPeer(session, url, grant["token"], name, fps=30)
                peers.append(peer)
                await peer.join()
            for peer in peers:
                await peer.wait_for_media(remotes=1)

            async def guest_tokens(link: str, address: str) -> list[str]:
                async with session_from(address) as own:
                    return [
                        (await api(own, base, "POST", "/guest/join-token",
                                   body={"guest_token": link, "name": "Guest"}))[1]["token"]
                        for _ in range(2)
                    ]  # fmt: skip

            async def attack() -> list[list[Any]]:
                addresses = [f"127.0.0.{10 + i}" for i in range(ATTACKERS)]
                grants = [
                    await guest_tokens(link, a) for link, a in zip(links, addresses, strict=True)
                ]
                return await asyncio.gather(
                    *(slow_pair(url, g, a) for g, a in zip(grants, addresses, strict=True))
                )

            def frames() -> int:
                return sum(sum(p.video_frames.values()) for p in peers)

            before, started = frames(), time.monotonic()
            figures = await attack_waves(service.proc.pid, attack)
            seconds = time.monotonic() - started
            received = frames() - before
            figures["call_fps_during_attack"] = round(received / len(peers) / seconds, 1)
            return figures
    finally:
        for peer in peers:
            await peer.close()
        service.kill()


FALLBACK_HOST = """
import asyncio, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from kiosk.signalling.fallback_server import FallbackServer
from kiosk.signalling.fallback_tokens import FallbackAuthenticator

async def main():
    key = load_pem_public_key(sys.stdin.buffer.read())
    server = FallbackServer(FallbackAuthenticator("cl_abuse", key), "127.0.0.1", int(sys.argv[1]))
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def fallback_rss() -> dict[str, Any]:
    clinic_key = Ed25519PrivateKey.generate()
    port = free_port()
    host = subprocess.Popen(
        [sys.executable, "-c", FALLBACK_HOST, str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert host.stdin is not None
        assert host.stdout is not None
        host.stdin.write(tokens.public_key_pem(clinic_key.public_key()).encode())
        host.stdin.close()
        assert host.stdout.readline().strip() == b"ready"
        url = f"ws://127.0.0.1:{port}/api/v1/signal"

        async def attack() -> list[list[Any]]:
            patient = [
                tokens.sign(clinic_key, subject=f"pt_{i}", name="P", role=Role.PATIENT,
                            clinic_id="cl_abuse", room_id=f"ps_{i}")[0]
                for i in range(ATTACKERS)
            ]  # fmt: skip
            return await asyncio.gather(
                *(unjoined_flood(url, patient[i], f"127.0.0.{10 + i}") for i in range(ATTACKERS))
            )

        return await attack_waves(host.pid, attack)
    finally:
        host.kill()
        host.wait()


async def member_logins_during(
    base: str, email: str, password: str, guess: Callable[[int], Awaitable[Any]]
) -> dict[str, Any]:
    """30 logins of a member, one after another, while 1000 ``guess(i)`` run, 50 at once."""
    at_once = asyncio.Semaphore(50)

    async def limited(i: int) -> None:
        async with at_once:
            await guess(i)

    flood = asyncio.gather(*(limited(i) for i in range(1000)))
    await asyncio.sleep(0.3)
    times, ok = [], 0
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            start = time.monotonic()
            body = {"email": email, "password": password}
            status, _ = await api(session, base, "POST", "/auth/login", body=body)
            times.append(time.monotonic() - start)
            ok += status == 200
    await flood
    times.sort()
    return {
        "member_login_p50_s": round(statistics.median(times), 3),
        "member_login_p99_s": round(times[min(len(times) - 1, int(0.99 * len(times)))], 3),
        "member_logins_ok": f"{ok}/30",
    }


async def login_flood(tmp: Path) -> dict[str, Any]:
    clinic, _ = await prepare_clinic(tmp / "login.db")
    service = ClinicProcess(tmp / "login.db", free_port(), ("--trusted-proxy", "127.0.0.1"))
    await service.start()
    base, email, password = service.url, clinic.member.email, clinic.member.password
    figures: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as session:  # the member logged in here before
            await login(session, base, email, password)
        async with session_from("127.0.0.50") as attacker, aiohttp.ClientSession() as proxy:

            async def from_one_address(i: int) -> None:
                body = {"email": f"nobody{i}@example.org", "password": "guess"}
                await api(attacker, base, "POST", "/auth/login", body=body)

            async def from_1000_addresses(i: int) -> None:
                # a botnet, as the trusted proxy forwards it
                body = {"email": f"nobody{i}@example.org", "password": "guess"}
                forwarded = {"X-Forwarded-For": f"10.{i // 250}.{i % 250}.1"}
                await api(proxy, base, "POST", "/auth/login", body=body, headers=forwarded)

            async def at_the_member_from_one_address(i: int) -> None:
                body = {"email": email, "password": f"guess {i}"}
                await api(attacker, base, "POST", "/auth/login", body=body)

            for name, guess in (
                ("one_address", from_one_address),
                ("1000_addresses", from_1000_addresses),
                ("the_members_own_account_one_address", at_the_member_from_one_address),
            ):
                figures[name] = await member_logins_during(base, email, password, guess)
    finally:
        service.kill()
    return figures


async def main() -> dict[str, Any]:
    restrict_host_addresses(["127.0.0.1"])
    with tempfile.TemporaryDirectory(prefix="abuse-") as tmp:
        return {
            "clinic_rss": await clinic_rss(Path(tmp)),
            "fallback_rss": await fallback_rss(),
            "login": await login_flood(Path(tmp)),
            "cpus": os.cpu_count(),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
