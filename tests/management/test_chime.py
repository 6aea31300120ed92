"""The waiting-area chime (issue 21): the admin turns it on in the device config; a box on
the pi HAL (real ALSA through a file PCM, gpiozero on mock pins) plays it through its
speaker when a patient arrives in an empty waiting area, and only then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from kiosk.chime import chime_frames
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.hal.conftest import AlsaFiles, alsa_dir  # noqa: F401 (the fixture)
from tests.management.boxes import EnrolledBox, enrolled_box
from tests.management.test_managed_kiosk import eventually
from tests.management.test_waiting_box import status_where
from tests.mesh_peer import MeshPeer


@pytest.fixture
async def box(
    clinic_server: ClinicServer,
    clinic: ClinicFixture,
    tmp_path: Path,
    loopback_ice: None,
    alsa_dir: AlsaFiles,  # noqa: F811
) -> AsyncIterator[EnrolledBox]:
    alsa_dir.speaker_output.unlink(missing_ok=True)
    made = await enrolled_box(clinic_server, clinic, tmp_path / "state", env={
        "KIOSK_HAL": "pi", "GPIOZERO_PIN_FACTORY": "mock",
        "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin", "XDG_CONFIG_HOME": str(alsa_dir.config_home),
        "KIOSK_AUDIO_OUTPUT_DEVICE": "kiosk_speaker", "KIOSK_AUDIO_INPUT_DEVICE": "kiosk_mic",
        "KIOSK_CAMERA": "lavfi:testsrc2=size=320x240:rate=10", "KIOSK_DISPLAY": "none",
        "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
    })  # fmt: skip
    await made.put_config(waiting={"chime": True})
    await made.process.start()
    try:
        await made.idle()
        yield made
    finally:
        made.process.kill()


def chime_samples() -> npt.NDArray[np.int16]:
    return np.concatenate([f.to_ndarray().reshape(-1) for f in chime_frames()])


async def test_the_first_patient_to_arrive_is_chimed_through_the_speaker(
    clinic_server: ClinicServer,
    clinic: ClinicFixture,
    box: EnrolledBox,
    alsa_dir: AlsaFiles,  # noqa: F811
) -> None:
    await status_where(box, waiting=0, chimes=0)
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    patients = []
    try:
        for name in ("Ann", "Bea"):
            entered = await clinic_server.ok("POST", enter, body={"name": name})
            page = MeshPeer(clinic_server.session, entered["signal_url"], entered["token"], name)
            patients.append(page)
            await page.join()
            await status_where(box, waiting=len(patients))
        await status_where(box, chimes=1)  # Ann's arrival; Bea found Ann waiting

        expected = chime_samples()
        lead = int(np.flatnonzero(expected)[0])

        async def played() -> bool:
            if not alsa_dir.speaker_output.exists():
                return False
            written = alsa_dir.output_samples()
            # the file PCM writes in whole buffers: the last few periods of the chime stay in
            # alsa-lib until more sound comes (a real card plays them out)
            return written.any() and len(written) - np.flatnonzero(written)[0] + lead >= 0.8 * len(
                expected
            )

        await eventually(played)
        written = alsa_dir.output_samples()
        # what the card got is the chime, sample for sample
        offset = int(np.flatnonzero(written)[0]) - lead
        got = written[offset : offset + len(expected)]
        assert np.array_equal(got, expected[: len(got)])
        assert (await box.process.status())["chimes"] == 1
    finally:
        for page in patients:
            await page.close()
