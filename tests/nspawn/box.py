"""The box as an appliance, wherever it boots (systemd-nspawn here, qemu-system-aarch64 in
`tests/arm64/test_boot.py`): the image stage installed into a Debian root, the check unit
that watches `kiosk.service` from inside, and what the tests expect of its findings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.priority import unit_niceness

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def built_cache(env: str, needs: list[str], tools: dict[str, str], build: str) -> Path:
    """The cache directory ``env`` names, with ``needs`` in it and ``tools`` (command ->
    its apt package) installed; a skip when ``env`` is unset (not root: `./dev test` sets
    it after running ``build``)."""
    value = os.environ.get(env)
    if not value:
        pytest.skip(f"{env} is not set: `./dev test` builds the root and sets it")
    path = Path(value)
    missing = [n for n in needs if not (path / n).exists()]
    if missing:
        pytest.fail(f"{env}={path} has no {', '.join(missing)}: run {build}")
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install {package}")
    return path


def run(*args: str, timeout: float = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload, no-any-return]


def copy_root(source: Path, target: Path) -> None:
    copied = run("cp", "-a", "--reflink=auto", str(source), str(target))
    assert copied.returncode == 0, copied.stderr


def install_stage(root: Path, wheels: Path, tmp: Path) -> None:
    """What pi-gen does with stage-kiosk: prepare.sh on the host, then 01-run.sh (twice:
    it must be safe to run again)."""
    stage = tmp / "stage-kiosk"
    shutil.copytree(REPO / "image/stage-kiosk", stage)
    offline = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    }
    prepared = run(str(REPO / "image/prepare.sh"), str(stage), env=offline)
    assert prepared.returncode == 0, prepared.stderr
    (root / "wheels").mkdir(exist_ok=True)
    step = f". {HERE / 'on_chroot.sh'}; export -f on_chroot; cd {stage}/00-kiosk; ./01-run.sh"
    env = {**os.environ, "ROOTFS_DIR": str(root), "WHEELS": str(wheels)}
    for attempt in ("first run", "run again"):
        result = run("bash", "-e", "-c", step, env=env)
        assert result.returncode == 0, f"01-run.sh ({attempt}): {result.stderr}"
    (root / "wheels").rmdir()


def in_root(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("chroot", str(root), *args, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def add_check(root: Path, *, watchdog_s: int, slowness: int) -> None:
    """Set the root up to boot into the check: the fake HAL (no camera here), a short
    watchdog, an enrollment code on the boot partition for a clinic that does not answer,
    the unit's sandbox around what a call imports, and kiosk-check.service. `slowness`
    multiplies the check's waits (an emulated CPU is many times slower)."""
    dropin = root / "etc/systemd/system/kiosk.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "test.conf").write_text(
        f"[Service]\nEnvironment=KIOSK_HAL=fake\nWatchdogSec={watchdog_s}\n"
    )
    (root / "boot/firmware").mkdir(parents=True, exist_ok=True)
    (root / "boot/firmware/kiosk-enroll.toml").write_text(
        'code = "1234567812345678"\nclinic_url = "http://127.0.0.1:9"\n'
    )
    sandbox = (root / "etc/systemd/system/kiosk.service").read_text()
    # (not its RuntimeDirectory: systemd would remove the daemon's socket when this stops)
    sandbox = re.sub(
        r"(?m)^(Type|NotifyAccess|WatchdogSec|Restart|ExecStart|RuntimeDirectory)=.*\n", "", sandbox
    )
    imports = "numpy, av, aiortc, livekit.rtc, alsaaudio, systemd.journal"
    sandbox = sandbox.replace(
        "[Service]\n",
        f'[Service]\nType=oneshot\nExecStart=/opt/kiosk/bin/python -c "import {imports}"\n',
    )
    (root / "etc/systemd/system/kiosk-imports.service").write_text(sandbox)
    shutil.copy(HERE / "check.sh", root / "usr/local/bin/kiosk-check")
    unit = (HERE / "kiosk-check.service").read_text()
    unit = unit.replace("[Service]\n", f"[Service]\nEnvironment=CHECK_SLOWNESS={slowness}\n")
    (root / "etc/systemd/system/kiosk-check.service").write_text(unit)
    wants = root / "etc/systemd/system/multi-user.target.wants/kiosk-check.service"
    wants.unlink(missing_ok=True)
    wants.symlink_to("/etc/systemd/system/kiosk-check.service")


def fields(line: str) -> dict[str, str]:
    """``|Key=value|Key=value|`` as check.sh writes `systemctl show`."""
    return dict(f.split("=", 1) for f in line.strip().split("|") if "=" in f)


def states(results: Path) -> list[dict[str, str]]:
    return [
        fields(line.partition(" ")[2]) for line in (results / "states.txt").read_text().splitlines()
    ]


def assert_checked(results: Path, console: str) -> None:
    """What check.sh found: the unit under a real systemd, its sandbox, its watchdog and a
    bad SD card."""
    assert (results / "done").exists(), console[-4000:]

    # active only after READY: systemd saw a running daemon that had not yet said so
    seen = states(results)
    starting = [s for s in seen if s["ActiveState"] == "activating" and s["MainPID"] != "0"]
    assert starting, seen
    assert seen[-1]["ActiveState"] == "active", seen
    stamps = dict(
        line.split("=", 1) for line in (results / "timestamps.txt").read_text().splitlines()
    )
    started = int(stamps["ExecMainStartTimestampMonotonic"])
    active = int(stamps["ActiveEnterTimestampMonotonic"])
    assert active - started > 100_000, stamps  # µs: Python and aiortc take longer to load
    # ... and once active, the daemon answers with its restored state
    status = json.loads((results / "kiosk-status.json").read_text())
    assert status["enrolled"] is False
    # the call before anything else on the box
    assert int((results / "nice.txt").read_text()) == unit_niceness()

    # the code left the boot partition for the state directory, where the daemon, not
    # root, keeps trying with it and notes why it has not enrolled yet
    moved = (results / "enrollment.txt").read_text()
    assert "boot: kiosk-enroll.toml" not in moved, moved
    assert "kiosk kiosk 600 /var/lib/kiosk/kiosk-enroll.toml" in moved, moved
    assert "cannot reach the clinic at http://127.0.0.1:9" in moved, moved

    # STATUS= shows in systemctl status
    text = (results / "status.txt").read_text()
    assert "Active: active (running)" in text, text
    assert 'Status: "' in text, text

    # what a call imports (numpy, WebRTC's audio module, ...) is allowed by the seccomp filter
    assert (results / "imports.txt").read_text().split() == ["Result=success"]

    # the frozen loop: no pings, systemd's watchdog kills it, Restart= brings it back
    after = fields((results / "after-freeze.txt").read_text())
    assert all(s["NRestarts"] == "0" for s in seen), seen
    assert int(after["NRestarts"]) >= 1, after
    assert after["ActiveState"] == "active", after
    journal = [json.loads(line) for line in (results / "journal.json").read_text().splitlines()]
    messages = [str(entry.get("MESSAGE", "")) for entry in journal]
    assert any("Watchdog timeout" in m for m in messages), messages[-30:]
    # a full, then a read-only state directory: degraded, never restarted
    for case, errno_name in (("full", "ENOSPC"), ("readonly", "EROFS")):
        # (the second line: a `systemctl start` counts restarts from 0 again)
        now = fields((results / f"{case}-states.txt").read_text().splitlines()[1])
        assert now["ActiveState"] == "active", (case, now)
        assert now["NRestarts"] == "0", (case, now)
        assert "cannot write /var/lib/kiosk/kiosk-enroll.toml.error" in now["StatusText"], now
        status = json.loads((results / f"{case}-status.json").read_text())
        problem = status["storage_problem"]
        assert problem["path"] == "/var/lib/kiosk/kiosk-enroll.toml.error", (case, problem)
        assert problem["reason"].startswith(errno_name), (case, problem)
        assert status["leds"]["error"] == "on", (case, status["leds"])
    # the daemon's own entries carry its structured fields
    own = [e for e in journal if e.get("SYSLOG_IDENTIFIER") == "kiosk"]
    assert own, messages[-30:]
    assert all("KIOSK_STATE" in e for e in own)
