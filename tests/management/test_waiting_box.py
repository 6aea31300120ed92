"""The box and the waiting area (issue 21): a real fake-HAL `kiosk run` enrolled with the
real clinic service. Its `patient` LED pulses while a patient waits and it is idle; with
only a ghost listed (a patient whose page never connected: a refused camera, a closed
tab) button 6 says "nobody is waiting" and the box stays idle; with a patient whose page
is there, button 6 joins them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, decoded_frames
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.boxes import EnrolledBox, enrolled_box
from tests.management.test_managed_kiosk import eventually
from tests.mesh_peer import MeshPeer


@pytest.fixture
async def box(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path, loopback_ice: None
) -> AsyncIterator[EnrolledBox]:
    made = await enrolled_box(clinic_server, clinic, tmp_path / "state", env={
        "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
        "KIOSK_CAMERA_WIDTH": "320", "KIOSK_CAMERA_HEIGHT": "240", "KIOSK_CAMERA_FPS": "10",
    })  # fmt: skip
    await made.put_config(buttons={"6": {"action": "answer_next_patient"}})
    await made.process.start()
    try:
        await made.idle()
        yield made
    finally:
        made.process.kill()


async def status_where(box: EnrolledBox, **expected: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status = await box.process.status()
        return status if all(status.get(k) == v for k, v in expected.items()) else None

    found: dict[str, Any] = await eventually(check, 15)
    return found


async def test_the_box_answers_only_a_patient_who_is_there(
    clinic_server: ClinicServer, clinic: ClinicFixture, box: EnrolledBox
) -> None:
    status = await status_where(box, waiting=0)
    assert status["leds"]["patient"] == "off"
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    await clinic_server.ok("POST", enter, body={"name": "Ghost"})  # never connects
    status = await status_where(box, waiting=1)
    assert status["leds"]["patient"] == "pulse(1)"

    await box.process.press(6)  # the box goes to find the ghost's page, and does not
    status = await status_where(box, state="idle", last_error="nobody is waiting")
    assert status["peers"] == []

    ann = await clinic_server.ok("POST", enter, body={"name": "Ann"})
    page = MeshPeer(clinic_server.session, ann["signal_url"], ann["token"], "Ann")
    try:
        await page.join()
        await status_where(box, waiting=2)
        await box.process.press(6)
        in_call = await status_where(box, state="in_call")
        assert in_call["room_id"] == ann["room_id"]  # Ann's space, not the ghost's
        assert in_call["leds"]["patient"] == "off"  # busy: the LED waits for idle
        await page.wait_for_media(remotes=1, timeout=30)
    finally:
        await page.close()


async def test_a_patient_without_a_camera_is_answered_with_audio_both_ways(
    clinic_server: ClinicServer, clinic: ClinicFixture, box: EnrolledBox
) -> None:
    """The patient's browser refuses the camera (only the microphone is allowed): the
    patient waits audio-only, and the box answers with sound both ways."""
    async with chromium(only=("microphone",)) as browser:
        patient = await browser.new_page()
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await patient.fill("#name", "Ann Patient")
        await patient.click("button[type=submit]")
        await patient.wait_for_selector("#call-status:has-text('Keep this page open')")
        assert await patient.locator("#camera").is_hidden()  # nothing to turn off
        await status_where(box, waiting=1)
        await box.process.press(6)

        async def heard_both_ways() -> bool:
            status = await box.process.status()
            from_patient = [p["audio_frames_received"] for p in status["peers"]]
            page = await decoded_frames(patient)
            return bool(from_patient and from_patient[0] > 50 and page
                        and page[0]["audio_packets_received"] > 50)  # fmt: skip

        await eventually(heard_both_ways, 30)
        status = await box.process.status()
        assert status["peers"][0]["video_frames_received"] == 0  # audio only, as it should
