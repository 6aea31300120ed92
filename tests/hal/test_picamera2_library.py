"""The real picamera2, at a Raspberry Pi OS release's versions, in the project's venv.

On a box the venv is made with --system-site-packages, so the OS's picamera2 and the
extensions it imports (simplejpeg, built there against numpy 1) run on the venv's numpy
and av. Here picamera2 and those extensions come from PyPI at the same versions, built
against numpy 1 as the OS's are; only the two OS bindings that exist nowhere else
(libcamera's and kms++'s, C++ extensions) are stand-ins (`tests/hal/standins/`). With
numpy 2 in the venv the import fails ("numpy.dtype size changed") exactly as it did on a
box, and the project's seam must say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.hal.picamera2_site import install

STANDINS = Path(__file__).parent / "standins"


@pytest.fixture(scope="session")
def os_site() -> Path:
    """The packages of `picamera2_site`, installed once per machine (`./dev test` does it
    before the tests, which have no network)."""
    try:
        return install()
    except RuntimeError as exc:
        pytest.fail(str(exc))


PROBE = """
import json
import av, numpy
import picamera2
from picamera2.outputs import PyavOutput  # picamera2's use of av
from hal.errors import DeviceMissingError
from hal.pi.picamera import open_picamera2, pi_cameras
found = {"numpy": numpy.__version__, "av": av.__version__, "cameras": pi_cameras()}
try:
    open_picamera2()
except DeviceMissingError as exc:
    found["open"] = "missing: " + str(exc)
print(json.dumps(found))
"""


def test_the_os_picamera2_loads_with_the_venvs_numpy_and_av(os_site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": f"{os_site}:{STANDINS}"},
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["cameras"] == 0  # the stand-in binding has none: picamera2 asked it
    assert found["open"] == "missing: no Pi camera connected"
    assert found["numpy"] == metadata.version("numpy")


def rule(name: str) -> Requirement:
    """The project's requirement on ``name`` that applies on this Python."""
    rules = [
        r
        for r in map(Requirement, metadata.requires("clinic-kiosk") or [])
        if r.name == name and (r.marker is None or r.marker.evaluate({"extra": ""}))
    ]
    assert len(rules) == 1, rules
    return rules[0]


@pytest.mark.parametrize("name", ["numpy", "av"])
def test_the_venvs_numpy_and_av_are_in_the_range_proved_above(name: str) -> None:
    """What pip may install is what the test above ran with."""
    assert rule(name).specifier.contains(metadata.version(name))


def test_numpy_2_is_kept_out_where_the_os_camera_stack_is_built_against_numpy_1() -> None:
    if sys.version_info >= (3, 12):
        pytest.skip("Raspberry Pi OS bookworm is Python 3.11; newer ones ship numpy 2")
    assert not rule("numpy").specifier.contains("2.0.0")
