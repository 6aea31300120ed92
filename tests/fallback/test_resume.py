"""A call outlives a restart of its signalling server (PROTOCOL.md section 6 resume): the
box and a browser page keep their media and rejoin the room with their old peer ids, so
that whoever joins after the restart finds them both."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import aiohttp
import pytest

from tests.browser import chromium, decoded_frames, join_as_guest, wait_for_video
from tests.fallback.conftest import Lan, LanFactory
from tests.management.test_managed_kiosk import eventually
from tests.mesh_peer import MeshPeer


async def api(
    session: aiohttp.ClientSession, lan: Lan, path: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(
        lan.clinic.url + "/api/v1" + path, json=body or {}, headers=headers
    ) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def member_token(session: aiohttp.ClientSession, lan: Lan) -> str:
    member = lan.fixture.member
    login = await api(session, lan, "/auth/login", body={
        "email": member.email, "password": member.password,
    })  # fmt: skip
    token: str = login["token"]
    return token


async def newcomer_finding(
    session: aiohttp.ClientSession, lan: Lan, peers: int, timeout: float = 15
) -> tuple[MeshPeer, dict[str, Any], float]:
    """A participant who joins the room until it finds ``peers`` others there: it, its
    `joined`, and how long that took."""
    began = time.monotonic()
    token = await member_token(session, lan)
    while True:
        grant = await api(session, lan, f"/rooms/{lan.fixture.meeting_room}/join-token", token)
        newcomer = MeshPeer(session, grant["signal_url"], grant["token"], "Dr Newcomer")
        joined = await newcomer.join()
        if len(joined.get("peers", [])) >= peers:
            return newcomer, joined, time.monotonic() - began
        await newcomer.close()
        assert time.monotonic() - began < timeout, f"found {joined.get('peers')}"
        await asyncio.sleep(0.1)


def stop(lan: Lan, how: signal.Signals) -> None:
    assert lan.clinic.proc is not None
    lan.clinic.proc.send_signal(how)
    lan.clinic.proc.wait(15)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_a_call_outlives_a_clinic_restart_and_newcomers_find_everyone(
    lan: LanFactory, how: signal.Signals, loopback_ice: None
) -> None:
    net = await lan(["exam-1"], hosts=[])
    kiosk = net.kiosks["exam-1"]
    async with aiohttp.ClientSession() as session, chromium() as browser:
        token = await member_token(session, net)
        link = await api(session, net, f"/rooms/{net.fixture.meeting_room}/guest-links", token)
        page = await browser.new_page()
        await join_as_guest(page, link["url"], "Browser Guest")
        await kiosk.press(1)
        await net.in_call_with("exam-1", others=1)
        await wait_for_video(page, peers=1, frames=15)
        box_peer = (await decoded_frames(page))[0]["peer_id"]

        await asyncio.to_thread(stop, net, how)
        restarted = asyncio.create_task(net.clinic.start())
        states, page_frames = set(), []
        while not restarted.done():
            states.add((await kiosk.status())["state"])
            page_frames.append((await decoded_frames(page))[0]["video_frames_decoded"])
            await asyncio.sleep(0.2)
        await restarted
        for _ in range(10):  # and for a while after
            states.add((await kiosk.status())["state"])
            page_frames.append((await decoded_frames(page))[0]["video_frames_decoded"])
            await asyncio.sleep(0.2)
        assert states == {"in_call"}
        assert page_frames[-1] > page_frames[0] + 30, page_frames  # the picture went on

        newcomer, joined, _ = await newcomer_finding(session, net, peers=2)
        try:
            found = {p["name"]: p["peer_id"] for p in joined["peers"]}
            assert found["exam-1"] == box_peer  # the box took its old peer id back
            assert "Browser Guest" in found

            async def box_picture() -> bool:
                return newcomer.video_frames[found["exam-1"]] >= 10

            try:
                await eventually(box_picture, timeout=30)
            except TimeoutError:
                status = await kiosk.status()
                pcs = {peer: pc.connectionState for peer, pc in newcomer.pcs.items()}
                kiosk.kill()
                raise AssertionError(
                    f"newcomer got {dict(newcomer.video_frames)} over {pcs}; box: "
                    f"{status['peers']}; log: {kiosk.stderr_tail()}"
                ) from None
            # the page kept its link to the box (no new offer) and got the newcomer's
            stats = {s["peer_id"]: s for s in await decoded_frames(page)}
            assert box_peer in stats
            assert stats[box_peer]["state"] == "connected"
            status = await kiosk.status()
            assert status["state"] == "in_call"
            assert len(status["peers"]) == 2  # the page and the newcomer
            assert status["call"]["rejoins"] >= 1
            assert status["call"]["links_rebuilt"] == 0
        finally:
            await newcomer.close()
