"""How fast the system recovers from the field's usual failures. Prints one JSON object.

- clinic_back_found_s: a kiosk is in a call when its clinic is SIGKILLed; the clinic is
  started again on the same port; time from the clinic answering to a newcomer whose
  `joined` lists the kiosk (target <= 5 s). Median of 3 rounds.
- frozen_peer_left_s: a participant process in a call is SIGSTOPped; time until another
  participant gets its `peer_left` (target <= 10 s). Median of 3 rounds.
- kill9_idle_online_s: `kill -9` of an enrolled, idle kiosk and a new `kiosk run` at
  once (as systemd's Restart= would, less its RestartSec); time until it is idle and
  connected to its clinic again (target <= 3 s). Median of 3 rounds.

- loaded_call: a 5-participant call (the box and four aiortc participants, 320x240@15,
  each participant linked to the box, they and the clinic at nice -5) for 10 minutes with
  one busy loop per core at normal priority: links the box rebuilt (target 0), links to
  the box that failed at a participant, and the lowest per-minute frame rate of the box's
  picture at a participant or of a participant's at the box.
  LOADED_CALL_S in the environment shortens it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.call.ice import restrict_host_addresses
from tests.call.conftest import make_room
from tests.call.test_loaded_call import run_loaded_call
from tests.clinic_server import clinic_server_at
from tests.fallback.conftest import Lan, make_lan, start_lan
from tests.fallback.test_resume import api, member_token, newcomer_finding
from tests.mesh_peer import MeshPeer

ROUNDS = 3


async def fresh_lan(tmp: Path) -> Lan:
    net = await make_lan(tmp, ["exam-1"], [])
    try:
        return await start_lan(net)
    except BaseException:
        net.close()
        raise


async def clinic_back_found(tmp: Path) -> float:
    net = await fresh_lan(tmp)
    try:
        async with aiohttp.ClientSession() as session:
            token = await member_token(session, net)
            grant = await api(session, net, f"/rooms/{net.fixture.meeting_room}/join-token", token)
            doctor = MeshPeer(session, grant["signal_url"], grant["token"], "Dr Remote")
            await doctor.join()
            await net.kiosks["exam-1"].press(1)
            await net.in_call_with("exam-1", others=1)
            net.clinic.kill()
            await doctor.close()
            await net.clinic.start()
            back = time.monotonic()
            newcomer, _, _ = await newcomer_finding(session, net, peers=1, timeout=30)
            found = time.monotonic() - back
            await newcomer.close()
            return found
    finally:
        net.close()


async def frozen_peer_left(tmp: Path) -> float:
    net = await fresh_lan(tmp)
    try:
        async with aiohttp.ClientSession() as session:
            token = await member_token(session, net)
            room = f"/rooms/{net.fixture.meeting_room}/join-token"
            grant = await api(session, net, room, token)
            watcher = MeshPeer(session, grant["signal_url"], grant["token"], "Watcher")
            await watcher.join()
            other = await api(session, net, room, token)
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.participant", other["signal_url"],
                 other["token"], "Frozen"],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await watcher.next_event("peer_joined", timeout=20)
                await watcher.wait_for_media(remotes=1, frames=5)
                proc.send_signal(signal.SIGSTOP)
                stopped = time.monotonic()
                await watcher.next_event("peer_left", timeout=30)
                return time.monotonic() - stopped
            finally:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
                await watcher.close()
    finally:
        net.close()


async def kill9_idle_online(tmp: Path) -> float:
    net = await fresh_lan(tmp)
    try:
        kiosk = net.kiosks["exam-1"]
        assert kiosk.proc is not None
        kiosk.proc.kill()
        killed = time.monotonic()
        kiosk.proc.wait()
        kiosk.kill()
        await kiosk.start(timeout=30)
        while True:
            status = await kiosk.status()
            if status["state"] == "idle" and status["clinic_connected"]:
                return time.monotonic() - killed
            assert time.monotonic() - killed < 30
            await asyncio.sleep(0.01)
    finally:
        net.close()


async def loaded_call(seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        async with clinic_server_at(Path(tmp) / "clinic.db") as server:
            clinic = await server.make_clinic()
            async with make_room(server, clinic, Path(tmp)) as room:
                result = await run_loaded_call(room, seconds)
    result.pop("windows")
    return result


async def rounds(measure: object) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            out.append(round(await measure(Path(tmp)), 3))  # type: ignore[operator]
    return out


async def main() -> dict[str, object]:
    restrict_host_addresses(["127.0.0.1"])
    result: dict[str, object] = {"benchmark": "recovery"}
    for name, measure in (
        ("clinic_back_found_s", clinic_back_found),
        ("frozen_peer_left_s", frozen_peer_left),
        ("kill9_idle_online_s", kill9_idle_online),
    ):
        values = await rounds(measure)
        result[name] = statistics.median(values)
        result[name.removesuffix("_s") + "_all_s"] = values
    result["loaded_call"] = await loaded_call(float(os.environ.get("LOADED_CALL_S", "600")))
    result["targets"] = {
        "clinic_back_found_s": 5.0,
        "frozen_peer_left_s": 10.0,
        "kill9_idle_online_s": 3.0,
        "loaded_call.box_links_rebuilt": 0,
    }
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
