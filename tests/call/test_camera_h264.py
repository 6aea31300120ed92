"""A camera that encodes H.264 itself (a Pi 4's): its packets go out as they are, with
no encode on the box, and privacy, newcomers and keyframes still hold. The fake camera
stands in for the hardware with libx264 on a worker thread."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hal import framestamp
from kiosk.screen.scene import SELF, scene
from kiosk.screen.view import Participant, Video, View
from tests.call.conftest import Room, make_room
from tests.call.test_screen import SCREEN, region, screenshot
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually


@pytest.fixture
async def room(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> AsyncIterator[Room]:
    async with make_room(
        clinic_server, clinic, tmp_path, env={"KIOSK_FAKE_CAMERA_H264": "1"}
    ) as made:
        yield made


THEM = Participant("0", "Dr Remote", False, Video.LIVE)


async def h264(room: Room) -> dict[str, Any]:
    encoders: dict[str, dict[str, Any]] = (await room.status())["video_encoders"]
    return encoders["H264"]


def camera_picture(peer: Any, remote: str) -> bool:
    picture = peer.last_video[remote].to_ndarray(format="yuv420p")[:240]
    return framestamp.read(picture) is not None


async def test_the_camera_s_packets_go_out_as_they_are(room: Room) -> None:
    doctor, kiosk_peer = await room.call_with("Dr Remote")
    assert camera_picture(doctor, kiosk_peer)
    sent = await h264(room)
    assert sent["frames_from_camera"] > 0
    assert sent["frames_encoded"] == 0  # nothing encoded on the box

    # a newcomer decodes only from a keyframe, which the camera's encoder makes when asked
    nurse = await room.participant("Nurse", send=False)

    async def decoded() -> bool:
        return nurse.video_frames[kiosk_peer] >= 10 and camera_picture(nurse, kiosk_peer)

    await eventually(decoded)
    assert (await h264(room))["frames_encoded"] == 0


async def test_privacy_holds_with_the_camera_encoding(room: Room) -> None:
    doctor, kiosk_peer = await room.call_with("Dr Remote")
    await room.kiosk.press(5)  # camera off
    await asyncio.sleep(1.5)
    picture = doctor.last_video[kiosk_peer].to_ndarray(format="yuv420p")[:240]
    assert framestamp.read(picture) is None  # no camera content at all
    assert float(np.std(picture)) < 3.0
    off = await h264(room)
    assert off["frames_encoded"] > 0  # the neutral frame is encoded here

    await room.kiosk.press(5)  # on again: the camera's own packets again

    async def camera_again() -> bool:
        now = await h264(room)
        return now["frames_from_camera"] > off["frames_from_camera"] + 5 and camera_picture(
            doctor, kiosk_peer
        )

    await eventually(camera_again)


async def test_the_screen_shows_the_box_s_own_picture_while_the_camera_encodes(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    """No frame passes the daemon while the camera encodes; the screen's corner still
    shows the camera, live (the fake camera's box sweeps across it), not a frozen frame."""
    env = {"KIOSK_FAKE_CAMERA_H264": "1", **SCREEN}
    async with make_room(clinic_server, clinic, tmp_path, env=env) as room:
        await room.call_with("Dr Remote")
        corner = next(
            p.rect
            for p in scene(View("in_call", participants=(THEM,)), 1280, 720).pictures
            if p.key == SELF
        )

        async def camera_encodes() -> bool:
            sent = await h264(room)
            return sent["frames_from_camera"] > 30 and sent["frames_encoded"] == 0

        await eventually(camera_encodes)
        shots = []
        for _ in range(3):
            shots.append(region(await screenshot(room, tmp_path), corner).astype(int))
            await asyncio.sleep(0.4)
        assert all(float(np.std(shot)) > 20 for shot in shots)  # the camera's bars, not grey
        moved = [float(np.abs(a - b).mean()) for a, b in itertools.pairwise(shots)]
        assert min(moved) > 0.5, moved  # live: the sweeping box moved between shots
        assert (await h264(room))["frames_encoded"] == 0
