"""One press to a live call: real aiortc participants, the real clinic, a fake-HAL kiosk."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from hal import framestamp
from tests.call.conftest import Room
from tests.management.test_managed_kiosk import eventually, kiosk_cli


async def test_a_press_joins_and_both_sides_see_and_hear(room: Room) -> None:
    doctor = await room.participant("Dr Remote")
    await room.kiosk.press(1)
    status = await room.wait_state("in_call")
    assert status["room_id"] == room.clinic.meeting_room
    assert status["leds"]["call"] == "on"
    assert status["echo_cancellation"] == "on"  # the clinic's default for a device
    await doctor.wait_for_media(remotes=1, frames=10)
    kiosk_peer = doctor.any_remote()
    stamp = framestamp.read(doctor.last_video[kiosk_peer].to_ndarray(format="yuv420p")[:240])
    assert stamp is not None  # the fake camera's picture, decoded at the participant
    assert doctor.audio_level(kiosk_peer) > -25  # the kiosk's 440 Hz tone

    async def heard() -> bool:
        status = await room.status()
        return bool(status["peers"]) and (status["speaker_level_dbfs"] or -120) > -25

    await eventually(heard)  # the participant's tone on the kiosk's speaker
    peer = (await room.status())["peers"][0]
    assert peer["name"] == "Dr Remote"
    assert peer["video_frames_received"] > 0
    assert peer["audio_frames_received"] > 0
    shown = await kiosk_cli(room.kiosk.env, "status")
    assert f"state:       in_call in {room.clinic.meeting_room}" in shown.stdout
    assert "  Dr Remote: connected, " in shown.stdout


async def test_mute_and_privacy_hold(room: Room) -> None:
    doctor, kiosk_peer = await room.call_with("Dr Remote")

    await room.kiosk.press(4)  # mute
    await room.kiosk.press(5)  # camera off
    status = await room.status()
    assert (status["muted"], status["camera_off"]) == (True, True)
    assert (status["leds"]["mute"], status["leds"]["camera"]) == ("on", "on")
    await asyncio.sleep(1.5)  # what was in flight has arrived
    assert doctor.audio_level(kiosk_peer) < -60  # silence, not the microphone
    picture = doctor.last_video[kiosk_peer].to_ndarray(format="yuv420p")[:240]
    assert framestamp.read(picture) is None  # no camera content at all
    assert float(np.std(picture)) < 3.0  # a flat neutral frame

    await room.kiosk.press(4)
    await room.kiosk.press(5)
    await asyncio.sleep(1.5)
    assert doctor.audio_level(kiosk_peer) > -25
    picture = doctor.last_video[kiosk_peer].to_ndarray(format="yuv420p")[:240]
    assert framestamp.read(picture) is not None


@pytest.mark.parametrize("count", [3, 5])
async def test_every_participant_receives_the_kiosk(room: Room, count: int) -> None:
    # watchers: they send nothing, so the kiosk is the only one each of them can receive
    # (and a 2-core machine is not also running a 5-way mesh of test participants)
    participants = [await room.participant(f"p{i}", send=False) for i in range(count)]
    await room.kiosk.press(1)
    await room.wait_state("in_call")
    for peer in participants:
        await peer.wait_for_media(remotes=1, frames=5, timeout=60)

    async def all_connected() -> bool:
        peers = (await room.status())["peers"]
        return len(peers) == count and all(p["connection"] == "connected" for p in peers)

    await eventually(all_connected, timeout=30)
    # encoded once for all of them: one encoder, every sender on it, one encode a frame
    encoders = (await room.status())["video_encoders"]
    assert list(encoders) == ["H264"]
    assert encoders["H264"]["senders"] == count
    first = encoders["H264"]["frames_encoded"]
    await asyncio.sleep(2)
    per_second = ((await room.status())["video_encoders"]["H264"]["frames_encoded"] - first) / 2
    assert per_second <= 15 * 1.2  # the camera's rate, not `count` times it


async def test_leave_and_a_remote_command(room: Room) -> None:
    doctor = await room.participant("Dr Remote")
    await room.kiosk.press(1)
    await room.wait_state("in_call")
    left = await room.kiosk.press(3)
    assert left["state"] in ("leaving", "idle")
    await room.wait_state("idle")
    assert (await doctor.next_event("peer_left"))["type"] == "peer_left"
    assert (await room.status())["peers"] == []

    await room.kiosk.press(1)
    await room.wait_state("in_call")
    await room.server.ok("POST", f"/devices/{room.device_id}/commands", room.clinic.admin.token,
                         {"action": "leave"})  # fmt: skip
    await room.wait_state("idle")


async def test_switching_rooms_and_pressing_the_same_room_again(room: Room) -> None:
    await room.kiosk.press(1)
    await room.wait_state("in_call")
    await room.kiosk.press(1)  # the current room: nothing happens
    assert (await room.status())["state"] == "in_call"
    await room.kiosk.press(2)  # the user room the admin assigned
    status = await room.wait_state("in_call")

    async def moved() -> bool:
        return (await room.status())["room_id"] == room.clinic.user_room

    await eventually(moved)
    assert status["state"] == "in_call"


async def test_answer_next_patient(room: Room) -> None:
    await room.kiosk.press(6)

    async def refused() -> dict[str, Any] | None:  # nobody waits: the LEDs say so
        status = await room.status()
        return status if status["last_error"] == "nobody is waiting" else None

    status = await eventually(refused)
    assert status["state"] == "idle"  # the box stays free (the LEDs: test_waiting_box.py)

    from tests.mesh_peer import MeshPeer

    entered = await room.server.ok(
        "POST", f"/clinics/{room.clinic.clinic_id}/waiting-area/enter", body={"name": "Ann"}
    )
    patient = MeshPeer(room.server.session, entered["signal_url"], entered["token"], "Ann")
    room.participants.append(patient)
    await patient.join()

    async def waiting() -> bool:  # listed once the patient's page is connected
        return bool((await room.status())["waiting"] == 1)

    await eventually(waiting)
    await room.kiosk.press(6)
    status = await room.wait_state("in_call")
    assert status["room_id"] == entered["room_id"]
    assert status["room_names"][entered["room_id"]] == "Consultation with Ann"  # named
    await patient.wait_for_media(remotes=1)
    await room.kiosk.press(3)
    idle = await room.wait_state("idle")
    # a patient's space is named for its call only: answering patients all year long
    # does not grow what the box keeps
    assert entered["room_id"] not in idle["room_names"]


async def test_the_box_knows_its_rooms_by_name(room: Room) -> None:
    """The clinic names the rooms of the box's buttons in its config message; the box says
    them (status, terminal, screen) instead of their ids."""

    async def named() -> dict[str, str] | None:
        names: dict[str, str] = (await room.status())["room_names"]
        return names or None  # once the channel's config message has come

    names = await eventually(named)
    assert names[room.clinic.meeting_room] == "M1"
