"""TURN with coturn: short-lived credentials from the clinic, refused once expired or
forged, and a kiosk call relayed through it when a participant can only use the relay."""

from __future__ import annotations

import time
from pathlib import Path

from clinic.app import Options
from clinic.turn import IceConfig
from kiosk.call.turn import check_turn
from kiosk.signalling.tokens import JoinClaims
from tests.call.conftest import make_room
from tests.clinic_server import clinic_server_at
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.network.conftest import Coturn

CLAIMS = JoinClaims("mb_1", "Dr A", "member", "cl_1", "rm_1", int(time.time()) + 60)  # type: ignore[arg-type]


async def server_for(config: IceConfig) -> dict[str, object]:
    servers = await config.ice_servers(CLAIMS)
    assert len(servers) == 1
    return servers[0]


async def test_the_clinic_s_credentials_work_until_they_expire(coturn: Coturn) -> None:
    def config(age_s: float, secret: bytes = coturn.secret) -> IceConfig:
        """Credentials made ``age_s`` ago, valid for 60 s."""
        return IceConfig(
            turn_urls=(coturn.url,), secret=secret, ttl_s=60, clock=lambda: time.time() - age_s
        )

    fresh = await server_for(config(0))
    username = str(fresh["username"])
    assert username.split(":") == [str(int(time.time()) + 60), "mb_1"]
    assert await check_turn(coturn.url, fresh) is None
    assert await check_turn(coturn.url, await server_for(config(50))) is None
    expired = await check_turn(coturn.url, await server_for(config(70)))
    assert expired is not None
    assert "refused the credentials (401" in expired
    forged = await check_turn(coturn.url, await server_for(config(0, b"x" * 32)))
    assert forged is not None
    assert "refused the credentials (401" in forged


async def test_a_turn_server_that_is_not_there_is_reported() -> None:
    config = IceConfig(turn_urls=("turn:127.0.0.1:9?transport=udp",), secret=b"s" * 32)
    problem = await check_turn(
        "turn:127.0.0.1:9?transport=udp", (await config.ice_servers(CLAIMS))[0]
    )
    assert problem is not None
    assert "turn:127.0.0.1:9" in problem


async def test_a_call_is_relayed_through_coturn(coturn: Coturn, tmp_path: Path) -> None:
    ice = IceConfig(turn_urls=(coturn.url,), secret=coturn.secret)
    async with clinic_server_at(tmp_path / "clinic.db", Options(ice=ice)) as server:
        clinic = await server.make_clinic()
        async with make_room(server, clinic, tmp_path) as room:
            # a participant that can use nothing but the relay (as behind a strict NAT)
            doctor = await room.participant("Dr Relayed", relay_only=True)
            assert doctor.ice_servers[0]["urls"] == [coturn.url]
            await room.kiosk.press(1)
            await room.wait_state("in_call")
            await doctor.wait_for_media(remotes=1, frames=10)
            kiosk_peer = doctor.any_remote()
            assert doctor.audio_level(kiosk_peer) > -25  # the kiosk's tone, relayed

            async def heard() -> bool:  # the doctor's tone, relayed the other way
                status = await room.status()
                return (status["speaker_level_dbfs"] or -120) > -25

            await eventually(heard, timeout=20)
            status = await room.status()
            assert status["turn_problem"] is None
            assert status["peers"][0]["video_frames_received"] > 0
    log = coturn.log_text()
    assert "ALLOCATE" in log or "allocation" in log.lower()


async def test_the_kiosk_reports_a_turn_server_that_refuses_it(
    coturn: Coturn, tmp_path: Path
) -> None:
    # the clinic was given another secret than the TURN server's: every credential is forged
    ice = IceConfig(turn_urls=(coturn.url,), secret=b"not-the-servers-secret")
    async with clinic_server_at(tmp_path / "clinic.db", Options(ice=ice)) as server:
        clinic = await server.make_clinic()
        async with make_room(server, clinic, tmp_path) as room:
            await room.call_with("Dr Direct")  # a direct path still works on the LAN

            async def reported() -> bool:
                return (await room.status())["turn_problem"] is not None

            await eventually(reported, timeout=20)
            problem = (await room.status())["turn_problem"]
            assert f"TURN server {coturn.url} refused the credentials (401" in problem
            shown = await kiosk_cli(room.kiosk.env, "status")
            assert "refused the credentials" in shown.stdout
