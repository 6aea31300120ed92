"""An uplink too thin for the call: the kiosk says so (status and the error LED; the
heartbeat carries the same field) instead of degrading silently. The 1 Mbit/s, 2 % loss
scenario with its frame-rate, freeze and recovery targets is measured by
benchmarks/network.py (see README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.call.ice import restrict_host_addresses
from tests.call.conftest import make_room
from tests.clinic_server import clinic_server_at
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.network.link import CLINIC_SIDE, box_link
from tests.network.scenario import KIOSK_ENV, VIDEO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_an_uplink_too_thin_for_the_call_is_reported(tmp_path: Path) -> None:
    restrict_host_addresses([CLINIC_SIDE])
    with box_link() as link:
        async with clinic_server_at(tmp_path / "clinic.db", host=CLINIC_SIDE) as server:
            clinic = await server.make_clinic()
            async with make_room(
                server, clinic, tmp_path, env=KIOSK_ENV, prefix=link.prefix, video=VIDEO
            ) as room:
                await room.call_with("Dr on a train")
                assert (await room.status())["uplink"] == "ok"
                # less than the least the box sends (150 kbit/s of video, and the audio)
                link.constrain(rate="120kbit", loss_percent=0)

                async def uplink(wanted: str) -> bool:
                    return bool((await room.status())["uplink"] == wanted)

                await eventually(lambda: uplink("insufficient"), timeout=60)

                async def error_led() -> bool:
                    return bool((await room.status())["leds"]["error"] == "on")

                await eventually(error_led)
                assert (await room.status())["state"] == "in_call"  # said so, not dropped
                shown = await kiosk_cli(room.kiosk.env, "status")
                assert "uplink too thin" in shown.stdout or "insufficient" in shown.stdout
                link.lift()
                await eventually(lambda: uplink("ok"), timeout=60)
