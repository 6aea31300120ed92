"""A full or read-only SD card degrades the box, never stops it.

The state directory is a real tmpfs the test mounts (root only; elsewhere these tests are
skipped and the injected-error tests below still run): filled up for ENOSPC, remounted
read-only for EROFS.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import subprocess
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest

from kiosk.management import persist
from kiosk.management.state import DeviceState
from kiosk.signalling.tokens import public_key_pem
from tests.browser import chromium
from tests.clinic.test_pages import log_in
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.boxes import enrolled_box
from tests.management.test_managed_kiosk import eventually


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of our own; unmounted however the test ends."""
    where = tmp_path / "card"
    where.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write until the file system is full; the filler, to delete when space returns."""
    filler = directory / "filler"
    for chunk in (65536, 1):  # then the last partial block
        with open(filler, "ab", buffering=0) as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * chunk)
    return filler


async def test_a_full_card_keeps_the_box_running_with_the_new_config_in_force(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmpfs: Path, tmp_path: Path
) -> None:
    box = await enrolled_box(clinic_server, clinic, tmpfs / "state")
    kiosk = box.process
    await kiosk.start()
    try:
        await box.idle()
        filler = fill(tmpfs)

        version = await box.put_config(auto_leave_minutes=33)

        async def degraded() -> dict[str, object] | None:
            status = await kiosk.status()
            return status if status["storage_problem"] else None

        status = await eventually(degraded)
        assert status["config_version"] == version  # in force, though not on the card
        problem = status["storage_problem"]
        assert problem["path"] == str(kiosk.state_dir / "device-config.json")
        assert problem["reason"].startswith("ENOSPC")
        assert status["state"] == "idle"

        async def error_led() -> bool:
            return (await kiosk.status())["leds"]["error"] == "on"

        await eventually(error_led)

        async def admin_sees_it() -> bool:
            listed = await box.listed()
            return bool(listed and (listed["status"] or {}).get("storage_problem") == problem)

        await eventually(admin_sees_it)
        async with chromium() as browser:  # and the admin page says so, in words
            page = await browser.new_page()
            await log_in(page, clinic_server, clinic.admin)
            await page.goto(clinic_server.url + "/admin")
            row = page.locator("#devices tr", has_text="Exam room 2")
            await row.locator("td:has-text('storage problem: cannot write')").wait_for()
            assert "ENOSPC" in (await row.text_content() or "")

        filler.unlink()  # space returns: the retry writes it

        async def written() -> bool:
            status = await kiosk.status()
            saved = json.loads((kiosk.state_dir / "device-config.json").read_text())
            return status["storage_problem"] is None and saved["version"] == version

        await eventually(written, timeout=15)
        await eventually(lambda: _not(error_led()))
    finally:
        code, err, _ = await asyncio.to_thread(kiosk.stop)
    assert code == 0, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1
    assert "ENOSPC" in errors[0]
    assert "device-config.json" in errors[0]


async def test_a_read_only_card_is_a_degraded_box_not_a_dead_one(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmpfs: Path, tmp_path: Path
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    box = await enrolled_box(
        clinic_server, clinic, tmpfs / "state", env={"KIOSK_RUNTIME_DIR": str(runtime)}
    )
    kiosk = box.process
    kiosk.socket = runtime / "control.sock"
    await kiosk.start()
    try:
        await box.idle()
        _mount("-o", "remount,ro", str(tmpfs))  # as the kernel does after an I/O error
        version = await box.put_config(auto_leave_minutes=34)

        async def degraded() -> dict[str, object] | None:
            status = await kiosk.status()
            return status if status["storage_problem"] else None

        status = await eventually(degraded)
        assert status["config_version"] == version
        assert status["storage_problem"]["reason"].startswith("EROFS")  # type: ignore[index]

        # a restart on the read-only card: the credential and the config still read fine
        code, err, _ = await asyncio.to_thread(kiosk.stop)
        assert code == 0, err
        await kiosk.start()
        status = await box.idle()
        assert status["enrolled"] is True
        assert (runtime / "control.sock").exists()

        _mount("-o", "remount,rw", str(tmpfs))

        async def written() -> bool:
            saved = json.loads((kiosk.state_dir / "device-config.json").read_text())
            return (await kiosk.status())["storage_problem"] is None and saved["version"] == version

        await eventually(written, timeout=15)
    finally:
        code, err, _ = await asyncio.to_thread(kiosk.stop)
    assert code == 0, err


@pytest.mark.parametrize(
    "number", [errno.ENOSPC, errno.EROFS, errno.EIO, errno.EACCES], ids=errno.errorcode.get
)
def test_every_state_write_survives_an_injected_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, number: int
) -> None:
    state = DeviceState(tmp_path)
    real_write = persist.write_atomically

    def broken(path: Path, data: bytes, mode: int = 0o644) -> None:
        raise OSError(number, os.strerror(number), str(path))

    monkeypatch.setattr(persist, "write_atomically", broken)
    caplog.set_level(logging.ERROR, logger="kiosk.management.persist")
    config = {"name": "Exam room 2"}

    assert state.save_config(7, config) is False
    assert state.save_config(8, config) is False  # the same failure: not logged again
    key = state.device_key()  # made, kept in memory, not on the card
    assert state.problem is not None
    assert state.problem.reason.startswith(errno.errorcode[number])
    cached = state.config()
    assert cached is not None
    assert cached.version == 8
    assert public_key_pem(state.device_key().public_key()) == public_key_pem(key.public_key())
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 2  # one line per file
    assert all(errno.errorcode[number] in line for line in errors)

    monkeypatch.setattr(persist, "write_atomically", real_write)
    assert state.files.flush() is True
    assert state.problem is None
    assert json.loads((tmp_path / "device-config.json").read_text())["version"] == 8
    assert (tmp_path / "device-key.pem").exists()


def test_an_unreadable_state_file_reads_as_missing_and_is_moved_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credential.json"
    path.write_text("{}")
    real_read = Path.read_bytes

    def unreadable(self: Path) -> bytes:
        if self == path:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    caplog.set_level(logging.ERROR, logger="kiosk.management.persist")
    assert DeviceState(tmp_path).credential() is None
    [line] = [r.getMessage() for r in caplog.records]
    assert str(path) in line
    assert "EIO" in line
    assert "not enrolled" in line
    assert list(tmp_path.glob("credential.json.corrupt-*"))
