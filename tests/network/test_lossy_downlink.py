"""A box whose downlink loses 2 % of its packets still plays 98 % of what a participant
says: aiortc's own audio jitter buffer played about 91 % (kiosk/call/jitter.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.network.scenario import AUDIO_PACKETS_S, room_behind_link

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
SECONDS = 20


async def test_a_lossy_downlink_costs_the_box_only_the_audio_lost(tmp_path: Path) -> None:
    async with room_behind_link(tmp_path) as (room, link):
        await room.call_with("Dr on a train")
        link.lose_incoming(loss_percent=2)

        async def heard() -> tuple[float, int]:
            peers = (await room.status())["peers"]
            return time.monotonic(), int(peers[0]["audio_frames_received"])

        await asyncio.sleep(2)  # the buffers settle on the loss
        began, before = await heard()
        await asyncio.sleep(SECONDS)
        ended, after = await heard()
        played = (after - before) / (AUDIO_PACKETS_S * (ended - began))
        assert played >= 0.95, played
