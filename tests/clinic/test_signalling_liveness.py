"""PROTOCOL.md section 6: liveness (a frozen participant leaves in 10 s) and the rules of
resume (only the right key, for the same room and subject, gets an old peer id back)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.mesh_peer import MeshPeer


async def grant(server: ClinicServer, clinic: ClinicFixture, token: str) -> dict[str, Any]:
    answer: dict[str, Any] = await server.ok(
        "POST", f"/rooms/{clinic.meeting_room}/join-token", token
    )
    return answer


async def test_a_frozen_participant_is_announced_gone_within_10_s(
    clinic_server: ClinicServer, clinic: ClinicFixture, loopback_ice: None
) -> None:
    watcher_grant = await grant(clinic_server, clinic, clinic.member.token)
    watcher = MeshPeer(
        clinic_server.session, watcher_grant["signal_url"], watcher_grant["token"], "Watcher"
    )
    await watcher.join()
    frozen_grant = await grant(clinic_server, clinic, clinic.other_member.token)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.participant", frozen_grant["signal_url"],
         frozen_grant["token"], "Frozen"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        joined = await watcher.next_event("peer_joined", timeout=20)
        frozen_id = joined["peer"]["peer_id"]
        await watcher.wait_for_media(remotes=1, frames=5)
        proc.send_signal(signal.SIGSTOP)  # alive to the kernel, silent to everyone
        stopped = time.monotonic()
        left = await watcher.next_event("peer_left", timeout=20)
        took = time.monotonic() - stopped
        assert left["peer_id"] == frozen_id
        assert took <= 10.5, f"peer_left after {took:.1f} s"
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate()
        await watcher.close()


async def raw_join(
    server: ClinicServer, token: str, resume: dict[str, str] | None = None, ping: bool = True
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await server.session.ws_connect(server.signal_url, autoping=ping)
    message: dict[str, Any] = {"type": "join", "token": token}
    if resume is not None:
        message["resume"] = resume
    await ws.send_str(json.dumps(message))
    return ws, json.loads((await ws.receive(timeout=10)).data)


async def test_a_v1_client_that_answers_websocket_pings_stays(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    member = await grant(clinic_server, clinic, clinic.member.token)
    ws, joined = await raw_join(clinic_server, member["token"])
    try:
        assert joined["type"] == "joined"
        received = []

        async def read() -> None:  # aiohttp answers the server's pings while it reads
            async for message in ws:
                received.append(message)

        reader = asyncio.create_task(read())
        await asyncio.sleep(14)
        assert not ws.closed
        assert received == []
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    finally:
        await ws.close()


async def test_a_silent_client_is_closed_and_its_room_told(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    watcher, _ = await raw_join(
        clinic_server, (await grant(clinic_server, clinic, clinic.member.token))["token"]
    )
    silent, joined = await raw_join(
        clinic_server,
        (await grant(clinic_server, clinic, clinic.other_member.token))["token"],
        ping=False,  # answers no WebSocket ping and sends nothing
    )
    try:
        began = time.monotonic()
        assert json.loads((await watcher.receive(timeout=5)).data)["type"] == "peer_joined"
        left = json.loads((await watcher.receive(timeout=15)).data)
        assert left == {"type": "peer_left", "peer_id": joined["peer_id"]}
        assert 9 <= time.monotonic() - began <= 11
    finally:
        await watcher.close()
        await silent.close()


async def test_resume_gives_the_old_peer_id_back_only_with_its_key(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async def fresh(account_token: str) -> str:
        return str((await grant(clinic_server, clinic, account_token))["token"])

    first, joined = await raw_join(clinic_server, await fresh(clinic.member.token))
    old = {"peer_id": joined["peer_id"], "resume_key": joined["resume_key"]}

    # still joined: the id is taken, the newcomer gets another
    dup, while_on = await raw_join(clinic_server, await fresh(clinic.member.token), old)
    assert while_on["peer_id"] != old["peer_id"]
    await dup.close()
    await first.close()
    await asyncio.sleep(0.2)

    # someone else holding the key: not theirs (the key names the token's subject)
    thief, stolen = await raw_join(clinic_server, await fresh(clinic.other_member.token), old)
    assert stolen["peer_id"] != old["peer_id"]
    await thief.close()
    forged = {**old, "resume_key": old["resume_key"][::-1]}
    liar, lied = await raw_join(clinic_server, await fresh(clinic.member.token), forged)
    assert lied["peer_id"] != old["peer_id"]
    await liar.close()
    await asyncio.sleep(0.2)

    back, resumed = await raw_join(clinic_server, await fresh(clinic.member.token), old)
    assert resumed["peer_id"] == old["peer_id"]
    assert resumed["resume_key"] == old["resume_key"]
    await back.close()
