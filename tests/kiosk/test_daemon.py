"""`kiosk run` end to end, as a subprocess: start, press, status, stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.processes import KioskProcess


@pytest.fixture
async def kiosk(tmp_path: Path) -> AsyncIterator[Callable[..., KioskProcess]]:
    started: list[KioskProcess] = []

    def make(**env: str) -> KioskProcess:
        proc = KioskProcess(tmp_path / "state", {f"KIOSK_{k.upper()}": v for k, v in env.items()})
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.kill()


async def test_run_press_status_and_stop(kiosk: Callable[..., KioskProcess]) -> None:
    proc = await kiosk(hal="fake").start()
    # generous here: the start-up time is measured by benchmarks/startup.py
    assert proc.ready_after < 10
    before = await proc.status()
    assert before["state"] == "not_enrolled"
    assert before["enrolled"] is False
    assert before["leds"]["ready"] == "pulse(0.5)"
    assert before["leds"]["error"] == "off"

    after = await proc.press(1)
    assert after["last_press"]["number"] == 1
    assert after["leds"]["error"] == "blink(8)"  # the press was seen and could do nothing

    code, stderr, took = proc.stop()
    assert code == 0, stderr
    assert took < 2
    assert "LED error: blink(8)" in stderr  # LED history is in the log
    assert "stopped" in stderr.splitlines()[-1]
    assert not proc.socket.exists()


async def test_cli_press_and_status(kiosk: Callable[..., KioskProcess]) -> None:
    proc = await kiosk().start()
    env = proc.env
    pressed = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "press", "2"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert pressed.returncode == 0, pressed.stderr
    status = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "status", "--json"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    body = json.loads(status.stdout)
    assert set(body) >= {"state", "room_id", "signalling", "enrolled", "peripherals", "peers"}
    assert body["last_press"]["number"] == 2
    assert body["peripherals"] == {
        "camera": "ok", "microphone": "ok", "speaker": "ok", "buttons": "ok", "leds": "ok",
    }  # fmt: skip
    human = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "status"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "state:       not_enrolled" in human.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "press", "9"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "no button 9" in unknown.stderr
    assert proc.stop()[0] == 0


async def test_status_without_a_daemon_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_STATE_DIR": str(tmp_path), "KIOSK_CONFIG": os.devnull}
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "status"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no kiosk daemon answers" in result.stderr


async def test_a_missing_camera_is_reported_and_the_daemon_runs(
    kiosk: Callable[..., KioskProcess],
) -> None:
    proc = await kiosk(fake_faults='{"camera": "missing"}').start()
    status = await proc.status()
    assert status["peripherals"]["camera"] == "missing"
    assert status["peripheral_problems"]["camera"] == "camera unplugged"
    assert status["leds"]["error"] == "on"
    assert (await proc.press(3))["last_press"]["number"] == 3
    code, stderr, _ = proc.stop()
    assert code == 0
    assert [line for line in stderr.splitlines() if "ERROR" in line] == [
        line for line in stderr.splitlines() if "camera: camera unplugged" in line
    ]


async def test_a_second_daemon_on_the_same_socket_exits_1(
    kiosk: Callable[..., KioskProcess],
) -> None:
    first = await kiosk().start()
    second = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "run"],
        env=first.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 1
    assert "another kiosk daemon is running" in second.stderr
    assert (await first.status())["state"] == "not_enrolled"
    first.stop()


async def test_a_stale_socket_from_a_crash_is_replaced(kiosk: Callable[..., KioskProcess]) -> None:
    crashed = await kiosk().start()
    crashed.kill()  # SIGKILL: the socket file stays behind
    assert crashed.socket.exists()
    again = await kiosk().start()
    assert (await again.status())["state"] == "not_enrolled"
    assert again.stop()[0] == 0


async def test_a_daemon_that_does_not_answer_in_time_is_not_left_running(
    kiosk: Callable[..., KioskProcess],
) -> None:
    daemon = kiosk()  # the fixture kills it too, should this test fail
    with pytest.raises(TimeoutError, match="did not answer"):
        await daemon.start(timeout=0.01)
    assert daemon.proc is not None
    assert daemon.proc.poll() is not None  # killed and reaped, not left to run
