"""A connection is judged silent only once the box has made its offer: a box slow to make
one (a starved CPU, a STUN server that never answers) is not rebuilding the link under it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from clinic.app import Options
from clinic.turn import IceConfig
from kiosk.call import engine as call_engine
from kiosk.call.engine import CallEngine
from kiosk.signalling.device_config import AudioConfig
from tests.call.test_cycles import VIDEO, box_grant, waiting_participant
from tests.clinic_server import clinic_server_at
from tests.hal.conftest import small_config

SILENCE_S = 3.0  # the box's limit in this test: shorter than its offer takes


@pytest.fixture
def silent_stun() -> Iterator[str]:
    """A STUN server that never answers: gathering waits on it for 5 s (aioice's limit)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        yield f"stun:127.0.0.1:{hole.getsockname()[1]}"


async def test_a_slow_offer_is_not_taken_for_a_dead_connection(
    tmp_path: Path, silent_stun: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_engine, "SILENCE_S", SILENCE_S)
    options = Options(ice=IceConfig(stun_urls=(silent_stun,)))
    async with clinic_server_at(tmp_path / "clinic.db", options) as server:
        clinic = await server.make_clinic()
        participant = await waiting_participant(server, clinic)
        participant.ice_servers = []  # the participant answers at once: only the box is slow
        try:
            async with hal.build("fake", small_config()) as box:
                engine = CallEngine(box)
                try:
                    began = time.monotonic()
                    await engine.join(await box_grant(server, clinic), "Box", VIDEO, AudioConfig())
                    call = engine.call
                    assert call is not None
                    async with asyncio.timeout(30):
                        while not participant.video_frames and not call.links_rebuilt:
                            await asyncio.sleep(0.05)
                    assert call.links_rebuilt == 0
                    assert time.monotonic() - began > SILENCE_S  # the offer was slow
                    (link,) = call.links.values()
                    heard = sum(participant.video_frames.values())
                    await asyncio.sleep(2 * SILENCE_S)  # silence is judged from here on
                    assert call.links_rebuilt == 0
                    assert list(call.links.values()) == [link]
                    assert link.pc.connectionState == "connected"
                    assert sum(participant.video_frames.values()) > heard + 30
                finally:
                    await engine.close()
        finally:
            await participant.close()
