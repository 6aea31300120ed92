"""The room's screen in a real call: fake-HAL box, real aiortc participants through the
real clinic service, the screen read back with `kiosk display --png`."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
from PIL import Image

from kiosk.screen.layout import Rect
from kiosk.screen.scene import BACKGROUND, WARN, scene
from kiosk.screen.view import Participant, Video, View
from tests.call.conftest import Room, make_room
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.mesh_peer import MeshPeer, nobody

SCREEN = {"KIOSK_DISPLAY": "fake", "KIOSK_DISPLAY_MODE": "1280x720@30"}
PEOPLE = [  # name, the colour they send, muted
    ("Dr Red", (220, 30, 30), False),
    ("Nurse Green", (30, 200, 30), True),
    ("Blue Patient", (30, 30, 220), False),
    ("Yellow Guest", (230, 220, 30), False),
    ("Magenta Carer", (210, 30, 210), False),
]


async def screenshot(room: Room, tmp_path: Path) -> npt.NDArray[np.uint8]:
    target = tmp_path / "screen.png"
    done = await kiosk_cli(room.kiosk.env, "display", "--png", str(target))
    assert done.returncode == 0, done.stderr
    return np.asarray(Image.open(io.BytesIO(target.read_bytes())).convert("RGB"))


def near(pixel: npt.NDArray[np.uint8], colour: tuple[int, int, int], within: int = 45) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= within)


def region(image: npt.NDArray[np.uint8], rect: Rect) -> npt.NDArray[np.uint8]:
    return image[rect.y : rect.bottom, rect.x : rect.right]


async def everyone_seen(room: Room, count: int) -> dict[str, Any] | None:
    status = await room.status()
    peers = status["peers"]
    live = [p for p in peers if p["video_frames_received"] >= 20]
    return status if len(live) == count and status["display"]["shown"] > 0 else None


async def test_the_screen_shows_each_participant_in_order_named_with_badges(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    async with make_room(clinic_server, clinic, tmp_path, env=SCREEN) as room:
        idle_before = await screenshot(room, tmp_path)
        for name, colour, muted in PEOPLE:
            grant = await clinic_server.grant_for(clinic, name, clinic.meeting_room)
            sound = "silence" if muted else "tone:660"
            # linked to the box alone (it offers to them when it joins): five participants
            # calling each other in this one process would starve it on a busy machine
            peer = MeshPeer(clinic_server.session, grant["signal_url"], grant["token"], name,
                            colour=colour, microphone=sound, offer_to=nobody)  # fmt: skip
            room.participants.append(peer)
            assert (await peer.join())["type"] == "joined"
        await room.kiosk.press(1)
        await room.wait_state("in_call")
        status = await eventually(lambda: everyone_seen(room, len(PEOPLE)), 60)
        assert status["display"]["state"] == "ok"
        assert status["display"]["mode"] == "1280x720@30"

        # where the tiles are, in the order the participants came
        expected = scene(View("in_call", participants=tuple(
            Participant(str(i), name, muted, Video.LIVE)
            for i, (name, _, muted) in enumerate(PEOPLE)
        )), 1280, 720)  # fmt: skip
        tiles = [p.rect for p in expected.pictures if p.key != "self"]
        assert len(tiles) == len(PEOPLE)

        async def shown_right() -> tuple[npt.NDArray[np.uint8]] | None:
            image = await screenshot(room, tmp_path)
            centres = [image[t.y + t.height // 2, t.x + t.width // 2] for t in tiles]
            ok = all(near(c, colour) for c, (_, colour, _) in zip(centres, PEOPLE, strict=True))
            return (image,) if ok else None

        (image,) = await eventually(shown_right, 20)
        captions = [t for t in (p.rect for p in expected.pictures if p.key != "self")]
        for tile, (name, _, muted) in zip(captions, PEOPLE, strict=True):
            caption = Rect(tile.x, tile.bottom, tile.width, 40)
            pixels = region(image, caption).reshape(-1, 3)
            assert len(np.unique(pixels, axis=0)) > 5, f"{name}: no name drawn"
            badge = region(image, Rect(caption.x + caption.width // 2, caption.y,
                                       caption.width // 2, caption.height))  # fmt: skip
            amber = (np.abs(badge.astype(int) - np.array(WARN)).max(axis=2) < 30).sum()
            if muted:
                assert amber > 20, f"{name}: no Muted badge"
            else:
                assert amber == 0, f"{name}: a badge, though not muted"

        await room.kiosk.press(3)
        await room.wait_state("idle")

        async def idle_again() -> tuple[npt.NDArray[np.uint8]] | None:
            image = await screenshot(room, tmp_path)
            centres = [image[t.y + t.height // 2, t.x + t.width // 2] for t in tiles]
            shown = [near(c, colour) for c, (_, colour, _) in zip(centres, PEOPLE, strict=True)]
            return None if any(shown) else (image,)

        (idle_after,) = await eventually(idle_again, 10)
        # the idle screen again (the clock may have turned a minute meanwhile)
        assert (idle_after[:, :800] == idle_before[:, :800]).mean() > 0.99
        assert near(idle_after[5, 5], BACKGROUND, 0)


async def test_without_a_display_nothing_is_composed(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    async with make_room(clinic_server, clinic, tmp_path) as room:
        await room.call_with("Dr Who")
        status = await eventually(lambda: everyone_seen_any(room), 30)
        assert "display" not in status["peripherals"]  # no screen is no fault
        assert status["display"]["state"] == "missing"
        assert status["display"]["composed"] == 0
        assert status["display"]["shown"] == 0
        done = await kiosk_cli(room.kiosk.env, "display", "--png", str(tmp_path / "x.png"))
        assert done.returncode == 1
        assert "no display" in done.stderr
        assert not (tmp_path / "x.png").exists()


async def everyone_seen_any(room: Room) -> dict[str, Any] | None:
    status = await room.status()
    return status if any(p["video_frames_received"] > 30 for p in status["peers"]) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_tester_watches_the_screen_live_in_a_browser_page(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    port = free_port()
    env = {**SCREEN, "KIOSK_DISPLAY_PREVIEW_PORT": str(port)}
    async with make_room(clinic_server, clinic, tmp_path, env=env) as room:
        await eventually(lambda: shown_once(room), 20)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/") as page:
                assert page.status == 200
                assert '<img src="/stream"' in await page.text()
            async with session.get(base + "/stream") as stream:
                assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
                head = await stream.content.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                image = Image.open(io.BytesIO(await stream.content.readexactly(length)))
                assert image.format == "JPEG"
                assert image.size == (1280, 720)


async def shown_once(room: Room) -> bool:
    return bool((await room.status())["display"]["shown"])
