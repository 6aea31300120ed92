"""The clinic's restart and reload_config commands, and the reconnect backoff."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from clinic.web import CHANNELS
from kiosk.management.backoff import Backoff
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import KioskProcess


async def managed_kiosk(
    server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> tuple[KioskProcess, str]:
    created = await server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token, {"name": "Box"}
    )
    kiosk = KioskProcess(tmp_path / "state", {"KIOSK_ENROLLMENT_FILE": str(tmp_path / "none")})
    done = await kiosk_cli(
        kiosk.env, "enroll", created["enrollment_code"], "--clinic-url", server.url
    )
    assert done.returncode == 0, done.stderr
    await kiosk.start()

    async def connected() -> bool:
        return bool((await kiosk.status())["clinic_connected"])

    await eventually(connected)
    return kiosk, created["device_id"]


async def run_command(server: ClinicServer, token: str, device_id: str, action: str) -> Any:
    command = await server.ok("POST", f"/devices/{device_id}/commands", token, {"action": action})

    async def answered() -> dict[str, Any] | None:
        result = await server.ok(
            "GET", f"/devices/{device_id}/commands/{command['command_id']}", token
        )
        return result if result["ok"] is not None else None

    return await eventually(answered)


async def test_restart_answers_then_exits_for_systemd(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    kiosk, device_id = await managed_kiosk(clinic_server, clinic, tmp_path)
    try:
        result = await run_command(clinic_server, clinic.admin.token, device_id, "restart")
        assert (result["ok"], result["message"]) == (True, "restarting")
        assert kiosk.proc is not None
        async with asyncio.timeout(10):
            while kiosk.proc.poll() is None:
                await asyncio.sleep(0.05)
        assert kiosk.proc.returncode == 75  # non-zero: Restart=on-failure starts it again
    finally:
        kiosk.kill()


async def test_reload_config_reconnects_and_fetches_it_again(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    kiosk, device_id = await managed_kiosk(clinic_server, clinic, tmp_path)
    channels = clinic_server.app[CHANNELS]
    try:
        before = channels._sockets[device_id]
        result = await run_command(clinic_server, clinic.admin.token, device_id, "reload_config")
        assert result["ok"] is True

        async def reconnected() -> bool:
            now = channels._sockets.get(device_id)
            return now is not None and now is not before

        await eventually(reconnected)
        status, data = await clinic_server.call(
            "POST", f"/devices/{device_id}/commands", clinic.admin.token, {"action": "bogus"}
        )
        assert (status, data["error"]["code"]) == (422, "invalid")
    finally:
        kiosk.kill()


def test_backoff_grows_with_full_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial_s=1, cap_s=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == 6  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1
    # a thousand boxes dropped together: their first waits cover the whole interval
    firsts = [Backoff(initial_s=8, rng=random.Random(seed)).next_delay() for seed in range(1000)]
    assert min(firsts) < 0.5
    assert max(firsts) > 7.5
    assert 3 < sum(firsts) / len(firsts) < 5
