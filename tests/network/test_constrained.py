"""An uplink too thin for the call: the kiosk says so (status and the error LED; the
heartbeat carries the same field) instead of degrading silently. The 1 Mbit/s, 2 % loss
scenario with its frame-rate, freeze and recovery targets is measured by
benchmarks/network.py (see README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.network.scenario import room_behind_link

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_an_uplink_too_thin_for_the_call_is_reported(tmp_path: Path) -> None:
    async with room_behind_link(tmp_path) as (room, link):
        await room.call_with("Dr on a train")
        assert (await room.status())["uplink"] == "ok"
        # less than the least the box sends (150 kbit/s of video, and the audio)
        link.constrain(rate="120kbit", loss_percent=0)

        async def uplink(wanted: str) -> bool:
            return bool((await room.status())["uplink"] == wanted)

        async def error_led() -> bool:
            return bool((await room.status())["leds"]["error"] == "on")

        await eventually(lambda: uplink("insufficient"), timeout=60)
        await eventually(error_led)
        assert (await room.status())["state"] == "in_call"  # said so, not dropped
        shown = await kiosk_cli(room.kiosk.env, "status")
        assert "uplink:      insufficient" in shown.stdout
        link.lift()
        await eventually(lambda: uplink("ok"), timeout=60)
