"""`camera = "auto"` on a box: the Pi camera when libcamera sees one, else a USB camera,
and a picamera2 that fails to load is reported with its reason, never raised past."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest

from hal import HealthState
from hal.errors import DeviceFailedError
from hal.pi import AvCamera, PiCamera, camera_for
from tests.hal.conftest import small_config

# what the OS's picamera2 raised in a venv with numpy 2, and a binding of another version
FAILURES = {
    "numpy": "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility."
    " Expected 96 from C header, got 88 from PyObject')",
    "binding": "raise AttributeError(\"module 'libcamera' has no attribute 'Orientation'\")",
}


@pytest.fixture(params=sorted(FAILURES))
def broken_picamera2(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An installed picamera2 whose import fails as the OS's did."""
    package = tmp_path / "site" / "picamera2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAILURES[request.param] + "\n")
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    importlib.invalidate_caches()
    return str(request.param)


def sysfs_with_usb_camera(root: Path) -> Path:
    """A Pi's video nodes (codec, ISP) and one UVC webcam at video3."""
    sysfs = root / "video4linux"
    for node, name in (("video0", "bcm2835-codec-decode"), ("video1", "bcm2835-isp")):
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(name + "\n")
    webcam = sysfs / "video3"
    webcam.mkdir()
    (webcam / "name").write_text("HD Pro Webcam C920\n")
    (webcam / "index").write_text("0\n")
    (root / "drivers" / "uvcvideo").mkdir(parents=True)
    (root / "usb-interface").mkdir()
    (root / "usb-interface" / "driver").symlink_to(root / "drivers" / "uvcvideo")
    (webcam / "device").symlink_to(root / "usb-interface")
    return sysfs


async def test_auto_takes_the_usb_camera_when_picamera2_does_not_load(
    broken_picamera2: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hal.pi"):
        camera = camera_for(small_config(camera="auto"), sysfs_with_usb_camera(tmp_path))
    assert isinstance(camera, AvCamera)
    assert camera.source == "/dev/video3"
    assert "picamera2 does not load" in caplog.text  # the Pi camera's problem is told


async def test_a_picamera2_that_does_not_load_is_a_camera_error_with_its_reason(
    broken_picamera2: str, tmp_path: Path
) -> None:
    sysfs = tmp_path / "video4linux"
    sysfs.mkdir()  # no USB camera either
    camera = camera_for(small_config(camera="auto"), sysfs)
    assert isinstance(camera, PiCamera)
    with pytest.raises(DeviceFailedError):
        await camera.start()
    assert camera.health.state is HealthState.ERROR
    assert camera.health.reason is not None
    assert "picamera2 does not load" in camera.health.reason
    expected = "numpy.dtype size changed" if broken_picamera2 == "numpy" else "Orientation"
    assert expected in camera.health.reason
