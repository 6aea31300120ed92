"""The constrained-uplink scenario, shared by its test and `benchmarks/network.py`.

A fake-HAL kiosk with a busy camera (640x480@30, VP8, at most 1500 kbit/s) in its own
network namespace calls a participant, headless Chromium from a guest link (what a
doctor at home uses) or a receive-only aiortc peer; after a free start its uplink drops
to 1 Mbit/s with 2 % loss for a while, then is freed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal.interfaces import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from kiosk.call.ice import restrict_host_addresses
from tests.browser import chromium, decoded_frames, join_as_guest, wait_for_video
from tests.call.conftest import Room, make_room
from tests.clinic_server import clinic_server_at
from tests.network.link import BOX_SIDE, CLINIC_SIDE, Link, Reception, box_link

VIDEO = {"width": 640, "height": 480, "fps": 30, "codec": "VP8", "max_bitrate_kbps": 1500}
KIOSK_ENV = {
    "KIOSK_ICE_HOST_ADDRESSES": BOX_SIDE,
    "KIOSK_CAMERA_WIDTH": "640", "KIOSK_CAMERA_HEIGHT": "480", "KIOSK_CAMERA_FPS": "30",
    "KIOSK_FAKE_CAMERA_BUSY": "true",
}  # fmt: skip
SETTLE_S = 10.0
AUDIO_PACKETS_S = AUDIO_SAMPLE_RATE // AUDIO_FRAME_SAMPLES  # one Opus frame a packet


@contextlib.asynccontextmanager
async def room_behind_link(
    tmp: Path, video: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Room, Link]]:
    """The clinic and participants here; the kiosk (busy camera) behind ``Link``, with
    the admin's ``video`` config (``VIDEO`` unless given)."""
    restrict_host_addresses([CLINIC_SIDE])
    with box_link() as link:
        async with clinic_server_at(tmp / "clinic.db", host=CLINIC_SIDE) as server:
            clinic = await server.make_clinic()
            async with make_room(
                server, clinic, tmp, env=KIOSK_ENV, prefix=link.prefix, video=video or VIDEO
            ) as room:
                yield room, link


@dataclass
class Watch:
    """What a participant has received from the kiosk so far."""

    video_frames: Callable[[], Awaitable[int]]
    audio_packets: Callable[[], Awaitable[int]]  # 20 ms of Opus each


@contextlib.asynccontextmanager
async def watcher(room: Room, browser: bool) -> AsyncIterator[Watch]:
    """A participant that receives the kiosk."""
    if not browser:
        peer = await room.participant("Dr at home", send=False)
        await room.kiosk.press(1)
        await room.wait_state("in_call")
        await peer.wait_for_media(remotes=1, frames=10)
        kiosk = peer.any_remote()

        async def aiortc_frames() -> int:
            return peer.video_frames[kiosk]

        async def aiortc_audio() -> int:
            # what arrived, as Chromium counts it (what aiortc's jitter buffer then plays
            # is aiortc's business: the kiosk replaces it, jitter.py)
            stats = (await peer.pcs[kiosk].getStats()).values()
            return sum(
                s.packetsReceived for s in stats if s.type == "inbound-rtp" and s.kind == "audio"
            )

        yield Watch(aiortc_frames, aiortc_audio)
        return
    link = await room.server.ok(
        "POST", f"/rooms/{room.clinic.meeting_room}/guest-links", room.clinic.member.token
    )
    async with chromium(secure_origin=room.server.url) as chrome:
        page = await chrome.new_page()
        await join_as_guest(page, link["url"], "Dr at home")
        await room.kiosk.press(1)
        await room.wait_state("in_call")
        await wait_for_video(page, peers=1, frames=10)

        async def browser_stat(name: str) -> int:
            stats = await decoded_frames(page)
            return int(stats[0][name]) if stats else 0

        yield Watch(
            lambda: browser_stat("video_frames_decoded"),
            lambda: browser_stat("audio_packets_received"),
        )


async def constrained_uplink(
    tmp: Path, constrained_s: float = 60.0, recovery_limit_s: float = 30.0, browser: bool = True
) -> dict[str, Any]:
    async with room_behind_link(tmp) as (room, link), watcher(room, browser) as watch:
        reception = Reception()

        async def sample() -> None:
            seen = await watch.video_frames()
            while True:
                await asyncio.sleep(0.05)
                count = await watch.video_frames()
                reception.add(time.monotonic(), count - seen)
                seen = count

        async def encoder() -> dict[str, Any]:
            status = await room.status()
            return dict(status["video_encoders"]["VP8"])

        sampler = asyncio.create_task(sample())
        try:
            await asyncio.sleep(SETTLE_S)
            free = await encoder()
            link.constrain()
            began = time.monotonic()
            audio_before = await watch.audio_packets()
            sent: list[int] = []
            while time.monotonic() - began < constrained_s:
                await asyncio.sleep(1)
                sent.append((await encoder())["sent_bitrate"])
            ended = time.monotonic()
            audio_got = await watch.audio_packets() - audio_before
            audio = audio_got / (AUDIO_PACKETS_S * (ended - began))
            during = await encoder()
            link.lift()
            recovered_after: float | None = None
            while time.monotonic() - ended < recovery_limit_s:
                await asyncio.sleep(0.25)
                now = await encoder()
                if (now["size"], now["bitrate"]) == (free["size"], free["bitrate"]):
                    recovered_after = time.monotonic() - ended
                    break
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
    return {
        "participant": "Chromium (guest link)" if browser else "aiortc, receive-only",
        "free": {"size": free["size"], "target_kbps": free["bitrate"] // 1000,
                 "sent_kbps": free["sent_bitrate"] // 1000,
                 "fps": round(reception.fps(began - SETTLE_S / 2, began), 1)},
        "constrained": {
            "seconds": constrained_s, "link": "1 Mbit/s, 2 % loss (tbf + nftables)",
            "fps": round(reception.fps(began, ended), 1),
            "longest_freeze_s": round(reception.longest_freeze(began, ended), 2),
            "freezes_over_1s": reception.freezes(began, ended),
            "sent_kbps_mean": round(sum(sent) / len(sent) / 1000) if sent else 0,
            "audio_received": round(audio, 3),
            "size_at_end": during["size"],
        },
        "recovered_after_s": None if recovered_after is None else round(recovered_after, 1),
    }  # fmt: skip
