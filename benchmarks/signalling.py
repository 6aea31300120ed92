"""Signalling throughput of the clinic service on one core: 100 rooms of 6 clients.

The server (`clinic serve`) is pinned to CPU 0, this client process to CPU 1. Measures
joins per second (token check, room bookkeeping, `joined` + `peer_joined` fan-out) and
relayed messages per second (offer-sized frames between peers of a room), and, as a
baseline from the same run, ping round trips per second. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from clinic import service
from clinic.principals import RoomKind
from clinic.storage import Storage
from kiosk.signalling import tokens
from kiosk.signalling.messages import Role

ROOMS = int(os.environ.get("BENCH_ROOMS", "100"))
PER_ROOM = 6
RELAYS_PER_CLIENT = 20
SDP = "v=0\r\n" + "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(db: Path) -> tuple[list[tuple[str, str]], str]:
    storage = await Storage.open(db)
    try:
        clinic_id, _ = await service.create_clinic(
            storage, "Bench", "bench@example.org", "a long bench password"
        )
        rooms = [
            await service.add_room(storage, clinic_id, RoomKind.MEETING_ROOM, f"r{i}", None)
            for i in range(ROOMS)
        ]
        key = tokens.load_private_key((await storage.clinic_signing_key(clinic_id)) or b"")
    finally:
        await storage.close()
    grants = []
    for room in rooms:
        for i in range(PER_ROOM):
            token, _ = tokens.sign(
                key, subject=f"mb_{i}", name=f"c{i}", role=Role.CLINICIAN,
                clinic_id=clinic_id, room_id=room, ttl_s=3600,
            )  # fmt: skip
            grants.append((room, token))
    return grants, clinic_id


async def wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise TimeoutError("clinic serve did not start")


async def run(port: int, grants: list[tuple[str, str]]) -> dict[str, float]:
    url = f"ws://127.0.0.1:{port}/api/v1/signal"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [await session.ws_connect(url, max_msg_size=0) for _ in grants]

        # joins: every client joins at once; done when each got its `joined`
        began = time.perf_counter()
        for ws, (_, token) in zip(sockets, grants, strict=True):
            await ws.send_str(json.dumps({"type": "join", "token": token, "name": "c"}))
        joined = await asyncio.gather(*(until(ws, "joined") for ws in sockets))
        join_s = time.perf_counter() - began

        # relays: each client sends offers to another peer of its room
        peers_of = [str(msg["peer_id"]) for msg in joined]
        rooms: dict[str, list[int]] = {}
        for index, (room, _) in enumerate(grants):
            rooms.setdefault(room, []).append(index)
        targets = [0] * len(sockets)
        for members in rooms.values():
            for position, index in enumerate(members):
                targets[index] = members[(position + 1) % len(members)]
        expected = [0] * len(sockets)
        for target in targets:
            expected[target] += RELAYS_PER_CLIENT
        # the joins announced each newcomer to those already there: read those first
        await asyncio.gather(
            *(
                count(ws, "peer_joined", PER_ROOM - 1 - len(msg["peers"]))  # type: ignore[arg-type]
                for ws, msg in zip(sockets, joined, strict=True)
            )
        )
        began = time.perf_counter()
        offer = {"type": "offer", "sdp": SDP}
        for ws, target in zip(sockets, targets, strict=True):
            for _ in range(RELAYS_PER_CLIENT):
                await ws.send_str(json.dumps({**offer, "to": peers_of[target]}))
        await asyncio.gather(
            *(count(ws, "offer", n) for ws, n in zip(sockets, expected, strict=True))
        )
        relay_s = time.perf_counter() - began

        # baseline: ping round trips through the same server
        began = time.perf_counter()
        for ws in sockets:
            for _ in range(RELAYS_PER_CLIENT):
                await ws.send_str('{"type": "ping"}')
        await asyncio.gather(*(count(ws, "pong", RELAYS_PER_CLIENT) for ws in sockets))
        ping_s = time.perf_counter() - began

        for ws in sockets:
            await ws.close()
    relayed = len(sockets) * RELAYS_PER_CLIENT
    return {
        "joins_per_s": round(len(sockets) / join_s),
        "relayed_per_s": round(relayed / relay_s),
        "pings_per_s": round(relayed / ping_s),
        "relay_to_ping_ratio": round((relayed / relay_s) / (relayed / ping_s), 2),
    }


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, object]:
    while True:
        msg = json.loads((await ws.receive(timeout=60)).data)
        if msg["type"] == kind:
            return dict(msg)
        if msg["type"] == "error":
            raise RuntimeError(msg)


async def count(ws: aiohttp.ClientWebSocketResponse, kind: str, n: int) -> None:
    seen = 0
    while seen < n:
        msg = json.loads((await ws.receive(timeout=60)).data)
        seen += msg["type"] == kind


def main() -> None:
    cores = sorted(os.sched_getaffinity(0))
    server_core, client_cores = cores[0], set(cores[1:] or cores)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        grants, _ = asyncio.run(prepare(db))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "clinic.cli", "serve", "--db", str(db), "--port", str(port),
             "--log-level", "WARNING"],
            preexec_fn=lambda: os.sched_setaffinity(0, {server_core}),
        )  # fmt: skip
        try:
            os.sched_setaffinity(0, client_cores)
            asyncio.run(wait_for_port(port))
            result = asyncio.run(asyncio.wait_for(run(port, grants), 300))
        finally:
            server.terminate()
            server.wait(10)
    print(json.dumps({
        "benchmark": "signalling", "rooms": ROOMS, "clients_per_room": PER_ROOM,
        "server_cores": 1, **result,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
