"""The daemon's lifecycle in-process: nothing left behind after SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.control import request
from kiosk.errors import ControlError
from kiosk.run import run


async def wait_for_socket(path: Path) -> dict[str, object]:
    for _ in range(500):
        try:
            return await request(path, "GET", "/status")
        except ControlError:
            await asyncio.sleep(0.01)
    raise TimeoutError(path)


@pytest.mark.usefixtures("no_thread_left")
async def test_sigterm_stops_every_task_and_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path))
    settings = load_settings()
    before = asyncio.all_tasks()
    daemon = asyncio.create_task(run(settings))
    await wait_for_socket(settings.control_socket_path)
    await request(settings.control_socket_path, "POST", "/buttons/1/press")  # starts LED threads
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(daemon, 2) == 0
    assert asyncio.all_tasks() == before
    assert not settings.control_socket_path.exists()
    # the loop's signal handlers are gone again
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


async def test_a_backend_that_cannot_be_built_is_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path))
    # narrower than the frame stamp; settings refuse it, so bypass them
    settings = load_settings().model_copy(update={"camera_width": 8})
    assert await run(settings) == 1
    assert any(r.getMessage().startswith("hal: ") for r in caplog.records)
