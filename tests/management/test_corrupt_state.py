"""A box whose state files rotted (a power cut mid-write on a cheap card, a bad sector, a
person poking at it) runs anyway and says what it found: one ERROR line naming the file,
the file moved aside for diagnosis, and the state the remaining files allow."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.boxes import EnrolledBox, enrolled_box
from tests.management.test_managed_kiosk import eventually


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot json at all\x89PNG")


def directory(path: Path) -> None:
    path.unlink()
    (path / "inside").mkdir(parents=True)


def retype(**fields: object) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        data = json.loads(path.read_text())
        data.update(fields)
        path.write_text(json.dumps(data))

    return mutate


def empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.fixture
async def box(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> AsyncIterator[EnrolledBox]:
    """Enrolled, then run once so that every state file exists (key, fallback grant)."""
    made = await enrolled_box(clinic_server, clinic, tmp_path / "state", fallback=True)
    await made.process.start()
    try:
        await made.idle()
        await eventually(lambda: _exists(made.process.state_dir / "fallback.json"))
        code, err, _ = await asyncio.to_thread(made.process.stop)
        assert code == 0, err
        yield made
    finally:
        made.process.kill()


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


CREDENTIAL_CASES = {
    "truncated": truncate,
    "not JSON": garbage,
    "empty": empty,
    "wrong types": retype(device_id=None, device_token=7),
    "not an object": lambda p: p.write_text("[1, 2, 3]"),
    "a directory": directory,
}

OTHER_CASES = {
    "config with a null version": ("device-config.json", retype(version=None)),
    "config truncated": ("device-config.json", truncate),
    "config not JSON": ("device-config.json", garbage),
    "config a directory": ("device-config.json", directory),
    "config of the wrong shape": ("device-config.json", retype(config={"buttons": 5})),
    "fallback grant not JSON": ("fallback.json", garbage),
    "fallback grant with a bad key": ("fallback.json", retype(clinic_public_key="nope")),
    "device key garbage": ("device-key.pem", garbage),
    "device key a directory": ("device-key.pem", directory),
}


async def _stopped_saying_once(box: EnrolledBox, path: Path, words: str) -> Path:
    """Stop the daemon: it exits 0, and said one ERROR line naming ``path`` with ``words``;
    the one copy of the file moved aside."""
    code, err, _ = await asyncio.to_thread(box.process.stop)
    assert code == 0
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1, err
    assert str(path) in errors[0]
    assert words in errors[0]
    aside = sorted(path.parent.glob(path.name + ".corrupt-*"))
    assert len(aside) == 1
    return aside[0]


@pytest.mark.parametrize("case", CREDENTIAL_CASES, ids=list(CREDENTIAL_CASES))
async def test_a_corrupt_credential_is_an_unenrolled_box_said_at_error(
    box: EnrolledBox, case: str
) -> None:
    path = box.process.state_dir / "credential.json"
    CREDENTIAL_CASES[case](path)

    await box.process.start()
    status = await box.process.status()
    assert status["enrolled"] is False
    assert status["state"] == "not_enrolled"
    assert status["leds"]["ready"].startswith("pulse")
    await _stopped_saying_once(box, path, "not enrolled")
    assert not path.exists()


@pytest.mark.parametrize("case", OTHER_CASES, ids=list(OTHER_CASES))
async def test_a_corrupt_state_file_is_moved_aside_and_the_box_is_idle(
    box: EnrolledBox, case: str
) -> None:
    name, mutate = OTHER_CASES[case]
    path = box.process.state_dir / name
    mutate(path)

    await box.process.start()
    status = await box.process.status()
    assert status["enrolled"] is True
    await box.idle()  # the clinic sends the config again at connect
    if name != "device-config.json":
        await eventually(lambda: _exists(path))  # made again (key) or received again (grant)
    aside = await _stopped_saying_once(box, path, "corrupt")
    if aside.is_dir():
        shutil.rmtree(aside)
