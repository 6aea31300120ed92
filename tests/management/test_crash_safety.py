"""Power loss while writing: kill the writer at random points; every restart reads a
valid credential and config (the old or the new one, never a torn one)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.management.state import DeviceState

# a writer as the daemon writes: the same function, the same files, as fast as it can
WRITER = """
import sys
from pathlib import Path
from kiosk.management.files import write_json
state = Path(sys.argv[1])
config = {"name": "Exam room 2", "buttons": {"1": {"action": "leave"}}, "heartbeat_seconds": 15}
print("ready", flush=True)
n = 0
while True:
    n += 1
    write_json(state / "credential.json", {
        "device_id": f"dv_{n}", "clinic_id": "cl_1", "clinic_url": "http://127.0.0.1:1",
        "device_token": "t" * 43 + str(n),
    }, mode=0o600)
    padded = {**config, "pad": "x" * (n % 5000)}
    write_json(state / "device-config.json", {"version": n, "config": padded}, mode=0o600)
"""


def test_a_hundred_kills_never_leave_a_torn_file(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    state = DeviceState(tmp_path)
    last_version = 0
    for _ in range(100):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.02))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        credential, config = state.credential(), state.config()
        if (tmp_path / "credential.json").exists():
            assert credential is not None
            assert credential.device_id.startswith("dv_")
            assert (tmp_path / "credential.json").stat().st_mode & 0o777 == 0o600
        if (tmp_path / "device-config.json").exists():
            assert config is not None
            assert config.config.name == "Exam room 2"
            last_version = max(last_version, config.version)
    assert last_version > 0  # the writer did get somewhere
    state.remove_leftovers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credential.json", "device-config.json"]
