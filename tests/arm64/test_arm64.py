"""The box's code on aarch64, as a Pi 4 (Cortex-A72) and a Pi 5 (Cortex-A76) run it:
Debian bookworm arm64 (Raspberry Pi OS's base) through qemu-user, the venv made from
aarch64 wheels and the two source builds (`tests/arm64/build.sh`).

Emulated, so slow and shared: the HAL contract and controller tests, the echo canceller
(LiveKit's aarch64 library) on 20 ms of audio, and one call of the
fake-HAL box enrolled to a clinic on this machine at 320x240@10, decoded by a participant.
Not a real Pi: no camera, sound card or GPIO; those are what `hal/pi/` tests stand in for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually
from tests.mesh_peer import MeshPeer
from tests.processes import KioskProcess

CACHE_ENV = "KIOSK_TEST_ARM64_CACHE"
REPO = Path(__file__).resolve().parents[2]
CPUS = ["cortex-a72", "cortex-a76"]  # Pi 4, Pi 5
PAGE_16K = 16 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def root() -> Path:
    value = os.environ.get(CACHE_ENV)
    if not value:
        pytest.skip(f"{CACHE_ENV} is not set: `./dev test` builds the root and sets it")
    path = Path(value) / "root"
    if not (path / "opt/kiosk/bin/python").exists():
        pytest.fail(f"{CACHE_ENV}={value} has no venv: run tests/arm64/build.sh")
    return path


@pytest.fixture(scope="module")
def source(root: Path) -> Iterator[Path]:
    """The repository, seen inside the root at /src (read-only)."""
    mount = root / "src"
    mount.mkdir(exist_ok=True)
    subprocess.run(["mount", "--bind", "-o", "ro", str(REPO), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def in_root(root: Path, cpu: str, *command: str) -> list[str]:
    return [
        "chroot", str(root), "env", "-i", "PATH=/opt/kiosk/bin:/usr/bin:/bin", "HOME=/tmp",
        "PYTHONPATH=/src", "PYTHONDONTWRITEBYTECODE=1", f"QEMU_CPU={cpu}", *command,
    ]  # fmt: skip


@pytest.mark.parametrize("cpu", CPUS)
def test_the_hal_contract_and_the_controller_pass_on_aarch64(
    root: Path, source: Path, cpu: str
) -> None:
    done = subprocess.run(
        in_root(root, cpu, "sh", "-c",
                "cd /src && uname -m && python -m pytest -q -p no:cacheprovider "
                "tests/hal/test_contract.py tests/kiosk/test_controller.py && python -c "
                "'from kiosk.call.echo import EchoCanceller as E; import numpy as n; e = E(); "
                "e.enabled = True; assert e.load(); e.played(n.ones(960, n.int16)); "
                "print(\"aec\", e.heard(n.ones(960, n.int16)).size)'"),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == "aarch64"
    assert " passed" in done.stdout
    assert done.stdout.splitlines()[-1] == "aec 960"  # the echo canceller runs there


def load_alignments(path: Path) -> list[int]:
    """The alignment of each PT_LOAD segment of a 64-bit little-endian ELF file."""
    with path.open("rb") as elf:
        header = elf.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            return []
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        alignments = []
        for i in range(phnum):
            elf.seek(phoff + i * phentsize)
            entry = elf.read(phentsize)
            (kind,) = struct.unpack_from("<I", entry, 0)
            if kind == 1:  # PT_LOAD
                alignments.append(struct.unpack_from("<Q", entry, 0x30)[0])
        return alignments


def test_every_shared_library_in_the_venv_loads_on_16k_pages(root: Path) -> None:
    """A Pi 5's kernel uses 16 KiB pages: a library whose segments are aligned to less
    does not load there."""
    venv = root / "opt/kiosk"
    libraries = [p for p in venv.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    assert len(libraries) > 20
    short = {
        str(p.relative_to(venv)): min(a)
        for p in libraries
        if (a := load_alignments(p)) and min(a) < PAGE_16K
    }
    assert not short, f"aligned below 16 KiB: {short}"


@contextlib.asynccontextmanager
async def arm64_box(
    root: Path, cpu: str, server: ClinicServer, clinic: ClinicFixture
) -> AsyncIterator[tuple[KioskProcess, int]]:
    """A fake-HAL box in the root, enrolled to ``server`` on this machine, and the version
    of the config the clinic holds for it (its button 1 joins the meeting room)."""
    admin = clinic.admin.token
    created = await server.ok("POST", f"/clinics/{clinic.clinic_id}/devices", admin,
                              {"name": f"Exam {cpu}"})  # fmt: skip
    configured = await server.ok("PUT", f"/devices/{created['device_id']}/config", admin, {
        "name": f"Exam {cpu}",
        "buttons": {"1": {"action": "join", "room_id": clinic.meeting_room}},
        "video": {"width": 320, "height": 240, "fps": 10, "codec": "VP8"},
        # emulated, AEC3 takes most of the box's one core: with it on, the loop starved,
        # the clinic's pings went unanswered and the call never got media (CI, twice);
        # that the canceller loads and runs on aarch64 is the contract test's to show
        "audio": {"echo_cancellation": False},
    })  # fmt: skip
    state = f"/tmp/state-{cpu}"
    subprocess.run(["rm", "-rf", str(root / state.lstrip("/"))], check=True)
    env = {
        "KIOSK_STATE_DIR": state, "KIOSK_CONFIG": "/dev/null", "KIOSK_TERMINAL": "false",
        "KIOSK_ENROLLMENT_FILE": "/nonexistent", "KIOSK_ICE_HOST_ADDRESSES": "127.0.0.1",
        "KIOSK_LOG_LEVEL": "INFO", "PYTHONFAULTHANDLER": "1",
        # the camera at the call's size and rate, as a box set up for it would be: the
        # default 640x480@30, drawn and scaled on the loop, took the emulated box's core
        "KIOSK_CAMERA_WIDTH": "320", "KIOSK_CAMERA_HEIGHT": "240", "KIOSK_CAMERA_FPS": "10",
    }  # fmt: skip
    settings = [f"{k}={v}" for k, v in env.items()]
    enroll = await asyncio.create_subprocess_exec(
        *in_root(root, cpu, *settings, "python", "-m", "kiosk.cli", "enroll",
                 created["enrollment_code"], "--clinic-url", server.url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(enroll.communicate(), 300)
    assert enroll.returncode == 0, err.decode()[-2000:]
    box = KioskProcess(root / state.lstrip("/"))
    box.command = in_root(root, cpu, *settings, "python", "-m", "kiosk.cli", "run")
    await box.start(timeout=300)
    try:
        yield box, configured["config_version"]
    except BaseException as exc:
        # the box's own account in the failure's message (CI shows the summary, not the
        # captured output): its status if it still answers, its log, and its threads'
        # stacks (faulthandler, on SIGABRT)
        try:
            status: object = await asyncio.wait_for(box.status(), 10)
        except (TimeoutError, OSError) as error:
            status = f"no answer ({error!r})"
        assert box.proc is not None
        box.proc.send_signal(signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(box.proc.wait, 60)  # the stacks written
        box.kill()
        lines = box.stderr.splitlines()
        shown = "\n".join(lines if len(lines) <= 200 else [*lines[:60], "[...]", *lines[-140:]])
        raise AssertionError(f"{exc!r}; the box's status: {status}\nits log:\n{shown}") from exc
    else:
        await asyncio.to_thread(box.stop, 60)


@pytest.mark.parametrize("cpu", CPUS)
async def test_the_box_on_aarch64_sends_its_picture_in_a_call(
    root: Path,
    source: Path,
    cpu: str,
    clinic_server: ClinicServer,
    clinic: ClinicFixture,
    loopback_ice: None,
) -> None:
    grant = await clinic_server.grant_for(clinic, "Dr Host", clinic.meeting_room)
    doctor = MeshPeer(clinic_server.session, grant["signal_url"], grant["token"], "Dr Host")
    try:
        await doctor.join()
        async with arm64_box(root, cpu, clinic_server, clinic) as (box, version):

            async def ready() -> bool:  # idle, with the clinic's button config
                status = await box.status()
                return status["state"] == "idle" and status["config_version"] == version

            await eventually(ready, timeout=120)
            await box.press(1)
            try:
                await doctor.wait_for_media(remotes=1, frames=20, timeout=240)
            except TimeoutError:
                raise TimeoutError(f"no media in 240 s at the doctor: {doctor.media()}") from None
            status = await box.status()
            assert status["state"] == "in_call"
            assert status["peers"][0]["name"] == "Dr Host"
    finally:
        await doctor.close()
