"""The pi-gen stage: its scripts pass shellcheck and follow pi-gen's conventions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parent.parent / "image"
SCRIPTS = sorted(p for p in IMAGE.rglob("*.sh"))


def test_there_are_scripts() -> None:
    names = {p.relative_to(IMAGE).as_posix() for p in SCRIPTS}
    assert {"prepare.sh", "stage-kiosk/prerun.sh", "stage-kiosk/00-kiosk/01-run.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(IMAGE).as_posix())
def test_script_passes_shellcheck_and_stops_on_errors(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (./dev test does)")
    result = subprocess.run(["shellcheck", "--severity=style", str(script)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout
    text = script.read_text()
    assert text.startswith("#!/bin/bash -e\n")
    assert "\nset -u\n" in text
    assert script.stat().st_mode & 0o111, "not executable"


def test_the_stage_installs_python_venv_and_picamera2_from_the_os() -> None:
    packages = (IMAGE / "stage-kiosk/00-kiosk/00-packages").read_text().split()
    assert {"python3-venv", "python3-picamera2"} <= set(packages)
    # the room's screen: KMS from the OS (picamera2's preview uses it too) and its font
    assert {"python3-kms++", "fonts-dejavu-core"} <= set(packages)
