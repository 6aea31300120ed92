"""The call holds when a part of the world goes away: the camera, or signalling."""

from __future__ import annotations

import asyncio

import numpy as np

from hal import framestamp
from kiosk.control import request
from kiosk.signalling.server import HUB
from tests.call.conftest import Room
from tests.management.test_managed_kiosk import eventually


async def test_camera_unplugged_mid_call(room: Room) -> None:
    doctor, kiosk = await room.call_with("Dr Remote")

    await request(room.kiosk.socket, "POST", "/fake/camera/unplug")

    async def placeholder() -> bool:
        frame = doctor.last_video[kiosk].to_ndarray(format="yuv420p")[:240]
        return framestamp.read(frame) is None and float(np.std(frame)) < 3

    await eventually(placeholder)
    frames = doctor.video_frames[kiosk]
    await asyncio.sleep(1)
    assert doctor.video_frames[kiosk] > frames  # the call goes on, with a placeholder

    async def reported() -> bool:
        status = await room.status()
        return status["peripherals"]["camera"] == "missing" and status["leds"]["error"] == "on"

    await eventually(reported)
    assert (await room.status())["state"] == "in_call"

    await request(room.kiosk.socket, "POST", "/fake/camera/replug")

    async def picture_back() -> bool:
        frame = doctor.last_video[kiosk].to_ndarray(format="yuv420p")[:240]
        return framestamp.read(frame) is not None

    await eventually(picture_back)


async def test_media_goes_on_when_signalling_drops(room: Room) -> None:
    doctor, kiosk = await room.call_with("Dr Remote")
    await room.server.app[HUB].close_all(1001, "signalling restarting")  # every socket
    before = doctor.video_frames[kiosk]
    await asyncio.sleep(2)
    assert doctor.video_frames[kiosk] > before + 15  # still ~15 fps, peer to peer
    status = await room.status()
    assert status["state"] == "in_call"
    assert status["peers"][0]["video_frames_received"] > 0
