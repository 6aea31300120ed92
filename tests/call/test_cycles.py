"""Join and leave a hundred times: no task, thread or peer connection stays behind."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import aiortc

import hal
from kiosk.call.audio import Mixer
from kiosk.call.encoder import SharedEncoder
from kiosk.call.engine import Call, CallEngine
from kiosk.call.peer import PeerLink
from kiosk.call.video import VideoPipeline
from kiosk.signalling.device_config import AudioConfig, VideoConfig
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.hal.conftest import small_config
from tests.mesh_peer import MeshPeer

CYCLES = 100


def live_peer_connections() -> int:
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if isinstance(obj, aiortc.RTCPeerConnection) and obj.connectionState != "closed"
    )


VIDEO = VideoConfig(width=320, height=240, fps=15, codec="VP8", max_bitrate_kbps=300)


async def waiting_participant(server: ClinicServer, clinic: ClinicFixture) -> MeshPeer:
    """A participant in the meeting room."""
    grant = await server.grant_for(clinic, "Dr P", clinic.meeting_room)
    participant = MeshPeer(server.session, grant["signal_url"], grant["token"], "Dr P")
    await participant.join()
    return participant


async def box_grant(server: ClinicServer, clinic: ClinicFixture) -> dict[str, Any]:
    """A fresh grant for each join, as the box asks for one at every press (a join token
    serves one session at a time)."""
    return await server.grant_for(clinic, "Box", clinic.meeting_room)


async def test_a_hundred_joins_and_leaves_leave_nothing_behind(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    participant = await waiting_participant(clinic_server, clinic)
    async with hal.build("fake", small_config()) as box:
        engine = CallEngine(box)

        async def cycle() -> None:
            grant = await box_grant(clinic_server, clinic)
            await engine.join(grant, "Box", VIDEO, AudioConfig())
            call = engine.call
            assert call is not None
            async with asyncio.timeout(10):
                while not call.links or any(
                    link.pc.connectionState != "connected" for link in call.links.values()
                ):
                    await asyncio.sleep(0.01)
            await engine.leave()

        # a warm-up: the first call starts what lives as long as the process or the
        # participant (the HTTP session, the participant's media relay)
        await cycle()
        await asyncio.sleep(0.2)
        tasks_before = {t for t in asyncio.all_tasks() if not t.done()}
        threads_before = set(threading.enumerate())
        pcs_before = live_peer_connections()
        for _ in range(CYCLES):
            await cycle()
        await asyncio.sleep(0.5)  # the participant's side of the last close settles
        await engine.close()
    leftover_tasks = {t for t in asyncio.all_tasks() if not t.done()} - tasks_before
    assert not leftover_tasks, [t.get_name() for t in leftover_tasks]
    # the event loop's default executor (aiortc's Opus encodes) keeps a bounded pool of
    # idle threads for the life of the loop: those are not the call's
    leftover_threads = [
        t.name
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and not t.name.startswith("asyncio_")
    ]
    assert not leftover_threads
    await participant.close()
    assert live_peer_connections() <= pcs_before


async def test_a_finished_call_is_freed_when_it_ends(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    """Not at the collector's next full pass, dozens of calls later: memory stays flat."""
    participant = await waiting_participant(clinic_server, clinic)
    grant = await box_grant(clinic_server, clinic)
    async with hal.build("fake", small_config()) as box:
        engine = CallEngine(box)
        try:
            await engine.join(grant, "Box", VIDEO, AudioConfig())
            async with asyncio.timeout(10):
                while not participant.video_frames:
                    await asyncio.sleep(0.05)
            await engine.leave()
            # no gc.collect() here: what is still tracked was not freed
            parts = (Call, PeerLink, VideoPipeline, SharedEncoder, Mixer)
            assert not [type(obj) for obj in gc.get_objects() if isinstance(obj, parts)]
        finally:
            await engine.close()
            await participant.close()
