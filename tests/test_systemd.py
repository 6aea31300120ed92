"""The units pass systemd's own checks; the daemon speaks sd_notify to a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.control import FREEZE_AFTER_S
from tests.management.test_managed_kiosk import kiosk_cli
from tests.processes import KioskProcess

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("kiosk.service", "clinic.service", "clinic@8081.service")


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with the host's systemd units, our units, and the binaries they start."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (./dev test does)")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        name = re.sub(r"@[^.]+", "@", unit)  # an instance's file is its template's
        shutil.copy(ROOT / "systemd" / name, root / "etc/systemd/system" / name)
    for command in ("opt/kiosk/bin/kiosk", "opt/kiosk/bin/clinic", "bin/sh"):
        (root / command).parent.mkdir(parents=True, exist_ok=True)
        (root / command).write_text("#!/bin/sh\n")
        (root / command).chmod(stat.S_IRWXU)
    return root


def test_units_verify_clean(unit_root: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={unit_root}", *UNITS],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.parametrize("unit", UNITS)
def test_exposure_score_is_low(unit_root: Path, unit: str) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={unit_root}", unit],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout[-500:]
    assert float(found.group(1)) <= 4.0


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A socket standing in for systemd's NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


def notifying_kiosk(tmp_path: Path, sock: socket.socket, watchdog_usec: int) -> KioskProcess:
    return KioskProcess(tmp_path / "state", {
        "NOTIFY_SOCKET": sock.getsockname(), "WATCHDOG_USEC": str(watchdog_usec),
        "KIOSK_ENROLLMENT_FILE": str(tmp_path / "none"),
    })  # fmt: skip


async def test_ready_status_watchdog_and_stopping_over_notify_socket(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    sock = notify_socket
    kiosk = notifying_kiosk(tmp_path, sock, 400_000)
    loop = asyncio.get_running_loop()
    got: list[str] = []

    async def until(prefix: str) -> str:
        async with asyncio.timeout(10):
            while True:
                message = (await loop.sock_recv(sock, 4096)).decode()
                got.append(message)
                if message.startswith(prefix):
                    return message

    try:
        await kiosk.start()
        assert await until("READY=1")
        assert got[0].startswith("STATUS=")  # the state is shown before READY
        assert "not enrolled" in got[0]
        began = loop.time()
        await until("WATCHDOG=1")
        await until("WATCHDOG=1")
        assert loop.time() - began < 1.0  # every WATCHDOG_USEC/2 = 0.2 s
        await kiosk.press(1)
        code, _, _ = kiosk.stop()
        assert code == 0
        assert await until("STOPPING=1")
    finally:
        kiosk.kill()


def test_outside_systemd_notify_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.systemd import Notifier

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    assert not notifier.active
    assert notifier.watchdog_interval() is None
    notifier.ready()  # nothing to send it to, and no error


async def test_a_frozen_loop_stops_the_watchdog_pings(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    sock = notify_socket
    kiosk = notifying_kiosk(tmp_path, sock, 200_000)
    loop = asyncio.get_running_loop()

    async def pings(seconds: float) -> int:
        count = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    if (await loop.sock_recv(sock, 4096)).startswith(b"WATCHDOG=1"):
                        count += 1
        return count

    try:
        await kiosk.start()
        assert await pings(1.0) >= 5  # every 0.1 s
        # read the pings meanwhile: the kernel queues 10 datagrams on a unix socket, then
        # the daemon's next ping blocks its loop, and the CLI (a second to start) got no answer
        reading = asyncio.create_task(pings(60))
        try:
            frozen = await kiosk_cli(kiosk.env, "fake", "loop", "freeze")
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        assert frozen.returncode == 0, frozen.stderr
        # the freeze begins 0.5 s after the answer; a ping already overdue when it does
        # (the loop was busy) may still go out first: drain, twice, then listen
        for _ in range(2):
            await asyncio.sleep(FREEZE_AFTER_S + 0.25)
            with contextlib.suppress(BlockingIOError):
                while True:  # what was sent before the freeze
                    sock.recv(4096)
        assert await pings(1.5) == 0  # what makes systemd kill and restart it
    finally:
        kiosk.kill()
        print(kiosk.stderr_tail(30))  # shown when the test fails


def test_the_box_may_open_its_screen_and_nothing_else_new() -> None:
    """DevicePolicy=closed: the screen's devices (KMS, fbdev) are allowed by name."""
    unit = (ROOT / "systemd" / "kiosk.service").read_text()
    allowed = re.findall(r"^DeviceAllow=(\S+) rw$", unit, re.MULTILINE)
    assert "DevicePolicy=closed" in unit
    assert {"char-drm", "char-fb"} <= set(allowed)
