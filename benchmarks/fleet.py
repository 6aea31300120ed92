"""A fleet of simulated boxes against the clinic service. Prints one JSON object.

For each N (1,000, 3,000, 10,000; `FLEET_SIZES=1000,3000` to choose) and each way of
serving (`FLEET_SERVING=sqlite,redis` to choose): one `clinic serve` process on SQLite, or
two `clinic serve --redis` processes on one PostgreSQL and one Redis (the tests' throwaway
servers; the boxes spread over the two as a round-robin load balancer would spread them);
N devices of one clinic, and simulator processes running the box's own `ChannelClient`
(N / SIMULATORS each, connecting at RAMP_PER_S a second, 15 s heartbeats, WebSocket pings
every 2 s as a box sends them). Once every box is connected and one heartbeat interval has
passed:
- rss_per_box_kib: the servers' RSS with the fleet connected, less their RSS before, per
  box (the clinic processes'; Redis's own is redis_rss_per_box_kib);
- cpu_per_heartbeat_ms: the clinic processes' CPU time (user + system) over WINDOW_S of the
  fleet alone, per heartbeat received in it (target <= 0.5 ms; the boxes' pings, one every
  2 s each, are in that time too; Redis's own is redis_cpu_per_heartbeat_ms);
- then device_list_p99_ms, login_p99_ms: 40 requests each while the fleet heartbeats, one
  at a time (a page of 100 devices; a member's login, argon2 included) (target <= 200 ms);
- then push_s: one bulk change of every box's video settings (`PATCH .../devices/config`),
  until every simulated box has applied it (target <= 30 s at 10,000);
- false_offline_alerts: `device_offline` alerts the clinic's webhook received while every
  box stayed up (target 0).
Requests and the push alternate between the processes where there are two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic import service
from clinic.auth import secret_hash
from clinic.enrollment import create_device
from clinic.storage import Storage
from tests.clinic_server import free_port, webhook_receiver
from tests.postgres import Cluster, throwaway_cluster
from tests.processes import ClinicProcess
from tests.redis_server import RedisServer

SIZES = [int(n) for n in os.environ.get("FLEET_SIZES", "1000,3000,10000").split(",")]
SERVING = os.environ.get("FLEET_SERVING", "sqlite,redis").split(",")
SIMULATORS = 4
RAMP_PER_S = 500
HEARTBEAT_S = 15
WINDOW_S = 30.0
SAMPLES = 40
EMAIL, PASSWORD = "admin@fleet.example", "a long fleet password"
PUSHED_FPS = 12


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# ---- the simulator (one process: `fleet.py simulate`, credentials on stdin) ---------------


async def simulate() -> None:
    import logging

    logging.basicConfig(level=os.environ.get("FLEET_DEBUG") or "ERROR")
    from pydantic import SecretStr

    from kiosk.management.backoff import Backoff
    from kiosk.management.channel import ChannelClient
    from kiosk.management.state import Credential

    credentials = [
        Credential(c["device_id"], c["clinic_id"], c["clinic_url"], SecretStr(c["device_token"]))
        for c in json.loads(sys.stdin.read())
    ]
    connected: set[str] = set()
    applied: set[str] = set()

    class Box:
        def __init__(self, device_id: str) -> None:
            self.device_id = device_id
            self.started = time.monotonic()

        async def on_config(self, version: int, config: dict[str, Any], _: Any) -> None:
            if config.get("video", {}).get("fps") == PUSHED_FPS:
                applied.add(self.device_id)

        async def on_command(self, command_id: str, action: str) -> tuple[bool, str | None]:
            return True, None

        def on_revoked(self) -> None:
            connected.discard(self.device_id)

        def on_connection(self, up: bool) -> None:
            (connected.add if up else connected.discard)(self.device_id)

        def on_waiting(self, count: int) -> None:
            pass

        def heartbeat(self) -> dict[str, Any]:
            return {
                "type": "heartbeat", "state": "idle", "signalling": "cloud",
                "uptime_s": round(time.monotonic() - self.started, 1),
                "peripherals": {"camera": "ok", "microphone": "ok", "speaker": "ok"},
                "software_version": "fleet", "cpu_temp_c": 48.5,
            }  # fmt: skip

        def heartbeat_seconds(self) -> float:
            return HEARTBEAT_S

    async def report() -> None:
        while True:
            print(json.dumps({"connected": len(connected), "applied": len(applied)}), flush=True)
            await asyncio.sleep(0.5)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(report())
        per_s = RAMP_PER_S / SIMULATORS
        for i, credential in enumerate(credentials):
            client = ChannelClient(credential, Box(credential.device_id), Backoff())
            tasks.create_task(client.run())
            if i % 10 == 9:
                await asyncio.sleep(10 / per_s)


# ---- the orchestrator ------------------------------------------------------------------


class Simulators:
    def __init__(self) -> None:
        self.procs: list[asyncio.subprocess.Process] = []
        self.counts: list[dict[str, int]] = []

    async def start(self, credentials: list[dict[str, str]]) -> None:
        for i in range(SIMULATORS):
            share = credentials[i::SIMULATORS]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "simulate",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=None if os.environ.get("FLEET_DEBUG") else asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(share).encode())
            proc.stdin.close()
            self.procs.append(proc)
            self.counts.append({"connected": 0, "applied": 0})
            asyncio.get_running_loop().create_task(self._read(i, proc))

    async def _read(self, i: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            self.counts[i] = json.loads(line)

    def total(self, key: str) -> int:
        return sum(c[key] for c in self.counts)

    async def until(self, key: str, n: int, timeout: float) -> float:
        start = time.monotonic()
        while self.total(key) < n:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"{key}: {self.total(key)} of {n} after {timeout} s")
            await asyncio.sleep(0.1)
        return time.monotonic() - start

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


async def seed(db: Path | str, n: int, urls: list[str]) -> tuple[str, list[dict[str, str]]]:
    """The clinic, and its boxes' credentials (box i talks to ``urls[i % len(urls)]``)."""
    storage = await Storage.open(db)
    try:
        clinic_id, _ = await service.create_clinic(storage, "Fleet clinic", EMAIL, PASSWORD)
        credentials = []
        for i in range(n):
            new = await create_device(storage, clinic_id, f"Exam {i:05d}")
            token = f"fleet-token-{i:05d}-{new.device_id}"
            device = await storage.enroll(secret_hash(new.enrollment_code), secret_hash(token), {})
            assert device is not None
            await storage.set_device_config(
                device.id, {**device.config, "heartbeat_seconds": HEARTBEAT_S}
            )
            credentials.append({"device_id": device.id, "clinic_id": clinic_id,
                                "clinic_url": urls[i % len(urls)],
                                "device_token": token})  # fmt: skip
        return clinic_id, credentials
    finally:
        await storage.close()


def last_lines(tmp: str) -> list[str]:
    """What the clinic processes of a failed run logged last."""
    logs = sorted(Path(tmp).glob("clinic-*.log"))
    return [line for log in logs for line in log.read_text().splitlines()[-5:]]


def p99_ms(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=100)[98] * 1000, 1)


async def timed(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> float:
    start = time.monotonic()
    async with session.request(method, url, **kw) as response:
        await response.read()
        assert response.status == 200, (response.status, await response.text())
    return time.monotonic() - start


async def fleet(n: int, tmp: Path, postgres: Cluster | None) -> dict[str, Any]:
    """One fleet of ``n``: on one SQLite process, or (``postgres``) on two on the bus."""
    args: tuple[str, ...] = ("--webhook-network", "127.0.0.0/8")
    redis: RedisServer | None = None
    db: Path | str = tmp / "clinic.db"
    ports = [free_port()]
    if postgres is not None:
        redis = RedisServer(tmp / "redis")
        redis.start()
        db, ports = await postgres.new_database(), [free_port(), free_port()]
        args += ("--redis", redis.url)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    clinic_id, credentials = await seed(db, n, urls)
    servers = [ClinicProcess(db, port, args, log=tmp / f"clinic-{port}.log") for port in ports]
    simulators = Simulators()
    async with webhook_receiver() as (hook_url, alerts), aiohttp.ClientSession() as session:
        for server in servers:
            await server.start()
        pids = [s.proc.pid for s in servers if s.proc is not None]
        redis_pids = [redis.pid] if redis is not None else []
        try:
            apis = [url + "/api/v1" for url in urls]
            async with session.post(apis[0] + "/auth/login",
                                    json={"email": EMAIL, "password": PASSWORD}) as r:  # fmt: skip
                admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
            webhook = {"url": hook_url}
            path = f"/clinics/{clinic_id}/alert-webhook"
            async with session.put(apis[0] + path, json=webhook, headers=admin) as r:
                assert r.status == 200, await r.text()
            rss_before = sum(map(rss_kib, pids))
            redis_rss_before = sum(map(rss_kib, redis_pids))
            await simulators.start(credentials)
            connect_s = await simulators.until("connected", n, timeout=n / RAMP_PER_S + 120)
            await asyncio.sleep(HEARTBEAT_S)  # every box has sent its first heartbeats
            rss_fleet = sum(map(rss_kib, pids))
            redis_rss_fleet = sum(map(rss_kib, redis_pids))

            cpu_start, start = sum(map(cpu_s, pids)), time.monotonic()
            redis_cpu_start = sum(map(cpu_s, redis_pids))
            await asyncio.sleep(WINDOW_S)  # the fleet alone: heartbeats and pings
            window = time.monotonic() - start
            cpu = sum(map(cpu_s, pids)) - cpu_start
            redis_cpu = sum(map(cpu_s, redis_pids)) - redis_cpu_start
            heartbeats = n * window / HEARTBEAT_S

            lists, logins = [], []
            for i in range(SAMPLES):
                api = apis[i % len(apis)]
                lists.append(await timed(session, "GET",
                                         api + f"/clinics/{clinic_id}/devices?limit=100",
                                         headers=admin))  # fmt: skip
                logins.append(await timed(session, "POST", api + "/auth/login",
                                          json={"email": EMAIL, "password": PASSWORD}))  # fmt: skip
                await asyncio.sleep(0.5)

            push_start = time.monotonic()
            change = {"devices": "all", "change": {"video": {"fps": PUSHED_FPS}}}
            async with session.patch(apis[0] + f"/clinics/{clinic_id}/devices/config",
                                     json=change, headers=admin) as r:  # fmt: skip
                assert r.status == 200, await r.text()
                answered_s = time.monotonic() - push_start
            await simulators.until("applied", n, timeout=600)
            push_s = time.monotonic() - push_start
            await asyncio.sleep(2 * HEARTBEAT_S)  # alerts that the push may have caused
            still = simulators.total("connected")
        finally:
            simulators.stop()
            for server in servers:
                server.kill()
            if redis is not None:
                redis.stop()
    offline = [a for a in alerts if a["event"] == "device_offline"]
    redis_figures = {}
    if redis is not None:
        redis_figures = {
            "redis_rss_per_box_kib": round((redis_rss_fleet - redis_rss_before) / n, 1),
            "redis_cpu_per_heartbeat_ms": round(redis_cpu / heartbeats * 1000, 3),
        }
    return {
        "boxes": n,
        "processes": len(servers),
        "connect_s": round(connect_s, 1),
        "rss_per_box_kib": round((rss_fleet - rss_before) / n, 1),
        "cpu_per_heartbeat_ms": round(cpu / heartbeats * 1000, 3),
        "cpu_share_of_a_core": round(cpu / window, 2),
        **redis_figures,
        "device_list_p50_ms": round(statistics.median(lists) * 1000, 1),
        "device_list_p99_ms": p99_ms(lists),
        "login_p50_ms": round(statistics.median(logins) * 1000, 1),
        "login_p99_ms": p99_ms(logins),
        "push_answered_s": round(answered_s, 1),
        "push_s": round(push_s, 1),
        "connected_after_push": still,
        "false_offline_alerts": len(offline),
    }


async def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the children
    results: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(throwaway_cluster()) if "redis" in SERVING else None
        for serving in SERVING:
            key = {"sqlite": "sqlite_one_process", "redis": "redis_two_processes_postgres"}
            for n in SIZES:
                with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
                    try:
                        found = await fleet(n, Path(tmp), postgres if serving == "redis" else None)
                    except (TimeoutError, AssertionError) as exc:
                        found = {"boxes": n, "failed": str(exc), "clinic_log": last_lines(tmp)}
                results.setdefault(key[serving], []).append(found)
                print(json.dumps({serving: found}), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "fleet", **results}))


if __name__ == "__main__":
    if sys.argv[1:] == ["simulate"]:
        asyncio.run(simulate())
    else:
        asyncio.run(main())
