"""Property: whatever bytes a state file holds, `kiosk run` starts, stays up and answers
`kiosk status` promptly. hypothesis mutates the files of a really enrolled box.

The clinic service runs on a loop in a thread of its own (one per module), so the
examples are plain synchronous code.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.management.state import FILES
from tests.clinic_server import clinic_server_at
from tests.management.boxes import enrolled_box
from tests.management.test_managed_kiosk import eventually
from tests.processes import KioskProcess

T = TypeVar("T")
STATUS_WITHIN_S = 2.0


class BackgroundClinic:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="state-fuzz-clinic")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def enroll_template(self) -> Path:
        """A box enrolled and run once: every state file exists, from the real thing."""
        self.server_cm = clinic_server_at(self.tmp / "clinic.db")
        server = await self.server_cm.__aenter__()
        clinic = await server.make_clinic()
        box = await enrolled_box(server, clinic, self.tmp / "template", fallback=True)
        await box.process.start()
        try:
            await box.idle()
            await eventually(lambda: _all_exist(box.process.state_dir))
        finally:
            code, err, _ = await asyncio.to_thread(box.process.stop)
        assert code == 0, err
        self.env = box.process.env
        return box.process.state_dir

    def close(self) -> None:
        self.run(self.server_cm.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _all_exist(state_dir: Path) -> bool:
    return all([await asyncio.to_thread((state_dir / name).exists) for name in FILES])


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundClinic, Path]]:
    background = BackgroundClinic(tmp_path_factory.mktemp("state-fuzz"))
    try:
        template = background.run(background.enroll_template())
        yield background, template
    finally:
        background.close()


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "replace", "insert", "empty"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(out) - 1))
            out[at] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if kind == "empty":
        return b""
    return draw(st.binary(max_size=512))


async def _answers_promptly(kiosk: KioskProcess) -> None:
    await kiosk.start(timeout=30)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        async with asyncio.timeout(STATUS_WITHIN_S):
            status = await kiosk.status()
        assert status["state"] in ("not_enrolled", "idle", "error")
        assert kiosk.proc is not None
        assert kiosk.proc.poll() is None
        await asyncio.sleep(0.25)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_any_bytes_in_any_state_file_leave_the_daemon_answering(
    clinic: tuple[BackgroundClinic, Path], tmp_path: Path, data: st.DataObject
) -> None:
    _, template = clinic
    state_dir = tmp_path / f"state-{time.monotonic_ns()}"
    shutil.copytree(template, state_dir)
    for name in data.draw(st.sets(st.sampled_from(FILES), min_size=1)):
        path = state_dir / name
        path.write_bytes(data.draw(mutation(path.read_bytes()), label=name))
    kiosk = KioskProcess(state_dir, {"KIOSK_ENROLLMENT_FILE": str(tmp_path / "none")})
    try:
        asyncio.run(_answers_promptly(kiosk))
        code, err, _ = kiosk.stop()
        assert code == 0, err
        assert "Traceback" not in err, err
    finally:
        kiosk.kill()
