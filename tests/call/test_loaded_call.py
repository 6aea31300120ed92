"""A 5-participant call on a CPU saturated by a competing load keeps every link.

The box and four participant processes (320x240@15 each) share the machine with one
busy-loop process per core at normal priority, as a Pi running flat out would. Judged: no
link of the box rebuilt or failed, and at least 10 fps over the run of the box's picture
at each participant and of each participant's at the box.
The box runs at its systemd unit's niceness (``Nice=`` in systemd/kiosk.service: the call
before anything else on the box). At normal priority it does not keep up under this load:
its event loop got 0.30 of a core where it needs 0.41 (measured per thread from
/proc/PID/task/*/schedstat: runnable but waiting for a core 0.68 s of every second), its
sockets overflowed (10 % of datagrams dropped, the kernel's RcvbufErrors), and links were
rebuilt in 6 of 7 runs of 4 to 10 minutes (two of them CI's).
The participants and the clinic stand for other computers, so the box alone shares its
CPU with the load: each participant is linked to the box only (they join first and offer
to nobody; the box offers to all four), and they and the test's own loop (the clinic
service) run ahead of the busy loops (nice -5, where this machine allows it). They still
take 0.8 of this machine's two cores. In a full mesh at normal priority each participant
ran four of aiortc's encoders and decoders on the same two cores, and those starved
processes, not the box, broke links (3 rebuilt in one CI run, a participant's receiver
stalled for minutes in others).
Before the box's consent checks tolerated late answers (kiosk/call/consent.py), aioice
tore down healthy links under such load (34 rebuilds in 12 minutes). Ten minutes by
default (KIOSK_TEST_LOADED_CALL_S shortens it for a developer's run); CI runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.call.conftest import Room, make_room
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually
from tests.priority import ahead, as_under_its_unit, unit_niceness

LOAD_S = float(os.environ.get("KIOSK_TEST_LOADED_CALL_S", "600"))
NORMAL = 0
PARTICIPANTS = 4
FPS = 15
MIN_FPS = 10.0
WINDOW_S = 60.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(LOAD_S + 300)]


@pytest.fixture
async def room(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> AsyncIterator[Room]:
    """The box as its unit runs it (at the unit's niceness)."""
    async with make_room(clinic_server, clinic, tmp_path, prefix=as_under_its_unit()) as made:
        yield made


@dataclass
class Participant:
    name: str
    proc: asyncio.subprocess.Process
    latest: dict[str, Any] = field(default_factory=dict)
    bad_states: list[str] = field(default_factory=list)

    async def follow(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.latest = json.loads(line)
            for remote, state in self.latest.get("states", {}).items():
                if state != "connected" and self.latest["video"].get(remote):
                    self.bad_states.append(f"{remote}:{state}")


@contextlib.asynccontextmanager
async def busy_cores() -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """One pure-Python busy loop per core, at normal priority, for the test's duration."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    for proc in procs:  # not the niceness of the thread that started them
        os.setpriority(os.PRIO_PROCESS, proc.pid, NORMAL)
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


async def run_loaded_call(room: Room, seconds: float) -> dict[str, Any]:
    """The call above under load for ``seconds``; what it measured."""
    with ahead():
        return await _loaded_call(room, seconds)


async def _loaded_call(room: Room, seconds: float) -> dict[str, Any]:
    people: list[Participant] = []
    followers = []
    try:
        for n in range(PARTICIPANTS):
            grant = await room.server.grant_for(room.clinic, f"P{n}", room.clinic.meeting_room)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.participant",
                grant["signal_url"], grant["token"], f"P{n}", str(FPS), "nobody",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            person = Participant(f"P{n}", proc)
            people.append(person)
            followers.append(asyncio.create_task(person.follow()))

        async def all_joined() -> bool:  # each prints once a second from its join on
            return all(p.latest for p in people)

        await eventually(all_joined, timeout=30)
        await room.kiosk.press(1)
        await room.wait_state("in_call")

        async def linked() -> bool:
            status = await room.status()
            box_ok = len([p for p in status["peers"] if p["video_frames_received"] > 10]) == 4
            return box_ok and all(
                [v > 10 for v in p.latest.get("video", {}).values()] == [True] for p in people
            )

        try:
            await eventually(linked, timeout=60)
        except TimeoutError:
            counts = _counts(people, await room.status())
            raise AssertionError(f"the links did not form: {counts}") from None
        windows: list[dict[str, float]] = []
        async with busy_cores():
            began = time.monotonic()
            first = _counts(people, await room.status())
            while time.monotonic() - began < seconds:
                start = _counts(people, await room.status())
                t0 = time.monotonic()
                await asyncio.sleep(min(WINDOW_S, seconds - (t0 - began)))
                end = _counts(people, await room.status())
                elapsed = time.monotonic() - t0
                windows.append(
                    {key: (end.get(key, 0) - start.get(key, 0)) / elapsed for key in start}
                )
        status = await room.status()
        last, total_s = _counts(people, status), time.monotonic() - began
        average = {k: (last.get(k, 0) - v) / total_s for k, v in first.items() if "box" in k}
        return {
            "seconds": round(time.monotonic() - began, 1),
            "box_links_rebuilt": status["call"]["links_rebuilt"],
            "participant_link_failures": [s for p in people for s in p.bad_states],
            "lowest_average_fps_with_box": round(min(average.values()), 1),
            "lowest_fps_with_box": round(min(min(w.values()) for w in windows), 1),
            "windows": windows,
        }
    finally:
        for person in people:
            with contextlib.suppress(ProcessLookupError):
                person.proc.kill()
            await person.proc.wait()
        for follower in followers:
            follower.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


def _counts(people: list[Participant], status: dict[str, Any]) -> dict[str, float]:
    """Video frames received so far, per receiver -> sender."""
    names = {peer["peer_id"]: peer["name"] for peer in status["peers"]}
    counts = {
        f"{p.name}<-{names.get(remote, 'box')}": float(frames)
        for p in people
        for remote, frames in p.latest.get("video", {}).items()
    }
    for peer in status["peers"]:
        counts[f"box<-{peer['name']}"] = float(peer["video_frames_received"])
    return counts


async def test_a_five_participant_call_on_a_saturated_cpu_keeps_every_link(room: Room) -> None:
    assert room.kiosk.proc is not None
    if os.geteuid() == 0:  # the box really runs at its unit's niceness
        assert os.getpriority(os.PRIO_PROCESS, room.kiosk.proc.pid) == unit_niceness()
    result = await run_loaded_call(room, LOAD_S)
    warned = [line for line in room.kiosk.logged().splitlines() if "WARNING" in line]
    result["box_warnings"] = warned[:20] + warned[-20:] if len(warned) > 40 else warned
    report = json.dumps(result)  # whole, with each minute's rates (a dict would be cut short)
    assert result["box_links_rebuilt"] == 0, report
    assert result["participant_link_failures"] == [], report
    # the box's pictures each way, over the whole run (a minute can dip when the load
    # starves a receiver; the lowest minute is reported)
    assert result["lowest_average_fps_with_box"] >= MIN_FPS, report
