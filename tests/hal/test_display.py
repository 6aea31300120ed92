"""The screen's backends: a framebuffer file of a real layout, KMS through the pykms seam
(a stand-in that records page flips), the fake, and the choice between them."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from hal import DeviceFailedError, DeviceMissingError, DisplayMode, HealthState
from hal.bundle import Hal
from hal.display import NoDisplay, parse_mode
from hal.fake import FakeDisplay
from hal.pi import display_for
from hal.pi.fbdev import FbDisplay
from hal.pi.kms import KmsDisplay
from kiosk.screen.compose import Composer
from kiosk.screen.scene import scene
from kiosk.screen.view import Connection, View
from tests.hal.conftest import small_config

STANDIN = Path(__file__).parent / "standins" / "pykms" / "__init__.py"


def composed(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A real composed screen (the idle scene), with noise so every byte counts."""
    composer = Composer(DisplayMode(width, height, 60))
    view = View("idle", box_name="Exam room 2", connection=Connection.CLOUD, clock="10:30",
                buttons=("1   Join Meeting room 1",), waiting=1)  # fmt: skip
    composer.compose(scene(view, width, height), {})
    noise = np.random.default_rng(7).integers(0, 256, (height, 64, 4), dtype=np.uint8)
    composer.canvas[:, -64:] = noise
    return composer.canvas


def framebuffer(tmp_path: Path, width: int, height: int, bits: int, pad: int = 0) -> Path:
    """/dev/fb0 and its sysfs entries, as the kernel lays them out, in files."""
    stride = width * bits // 8 + pad
    device = tmp_path / "dev" / "fb0"
    device.parent.mkdir()
    device.write_bytes(b"\xee" * stride * height)
    sysfs = tmp_path / "sys" / "fb0"
    sysfs.mkdir(parents=True)
    (sysfs / "virtual_size").write_text(f"{width},{height}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bits}\n")
    (sysfs / "stride").write_text(f"{stride}\n")
    return device


def rows(data: bytes, stride: int, used: int, height: int) -> bytes:
    return b"".join(data[y * stride : y * stride + used] for y in range(height))


async def test_fbdev_xrgb8888_holds_the_composed_frame_byte_for_byte(tmp_path: Path) -> None:
    device = framebuffer(tmp_path, 1920, 1080, 32, pad=128)
    display = FbDisplay(device, sysfs=tmp_path / "sys")
    await display.start()
    assert display.mode == DisplayMode(1920, 1080, 60.0)
    frame = composed(1920, 1080)
    display.show(frame)
    await display.stop()
    data = device.read_bytes()
    assert rows(data, 1920 * 4 + 128, 1920 * 4, 1080) == frame.tobytes()
    assert data[1920 * 4 : 1920 * 4 + 128] == b"\xee" * 128  # the padding is left alone


async def test_fbdev_rgb565_holds_the_frame_in_sixteen_bits(tmp_path: Path) -> None:
    device = framebuffer(tmp_path, 1920, 1080, 16)
    display = FbDisplay(device, sysfs=tmp_path / "sys")
    await display.start()
    frame = composed(1920, 1080)
    display.show(frame)
    await display.stop()
    written = np.frombuffer(device.read_bytes(), dtype="<u2").reshape(1080, 1920)
    for y, x in [(0, 0), (100, 200), (540, 960), (1079, 1919), (7, 1890), (333, 1900)]:
        blue, green, red = (int(v) for v in frame[y, x, :3])
        assert written[y, x] == (red >> 3) << 11 | (green >> 2) << 5 | blue >> 3, (y, x)
    expected = (
        (frame[..., 2].astype(np.uint16) >> 3) << 11
        | (frame[..., 1].astype(np.uint16) >> 2) << 5
        | frame[..., 0].astype(np.uint16) >> 3
    )
    assert np.array_equal(written, expected)


async def test_fbdev_without_the_device_is_missing(tmp_path: Path) -> None:
    display = FbDisplay(tmp_path / "fb1", sysfs=tmp_path)
    with pytest.raises(DeviceMissingError):
        await display.start()
    assert display.health.state is HealthState.MISSING
    assert display.mode is None


async def test_fbdev_of_an_unusable_depth_says_so(tmp_path: Path) -> None:
    device = framebuffer(tmp_path, 640, 480, 24)
    display = FbDisplay(device, sysfs=tmp_path / "sys")
    with pytest.raises(DeviceFailedError, match="24 bits per pixel"):
        await display.start()
    assert display.health.state is HealthState.ERROR


@pytest.fixture
def pykms() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pykms_standin", STANDIN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_kms_copies_a_frame_into_a_buffer_not_on_the_screen_and_flips(
    pykms: ModuleType,
) -> None:
    display = KmsDisplay(module=lambda: pykms)
    await display.start()
    card = pykms.Card.last
    assert display.mode == DisplayMode(1920, 1080, 60.0)  # the screen's preferred mode
    first, second, third = card.framebuffers
    assert card.modesets == [(first, (1920, 1080, 60))]
    frames = [composed(1920, 1080) for _ in range(3)]
    frames[1][:] = 40
    frames[2][:100] = 200
    assert display.free_at() == 0.0  # nothing pending: a frame is taken at once
    for frame in frames:
        display.show(frame)
        asked = time.monotonic()
        # a flip pending until the next vertical blank, at most one refresh away
        assert asked - 0.1 < display.free_at() <= asked + 1 / 60
    # copied into the buffer after the one on the screen, then flipped
    assert [fb for fb, _ in card.flips] == [second, third, first]
    for (_, shown), frame in zip(card.flips, frames, strict=True):
        assert shown == frame.tobytes()
    assert display.flips == 3
    await display.stop()


async def test_kms_shows_its_own_buffers_as_they_are(pykms: ModuleType) -> None:
    """The box draws straight into the screen's framebuffers (their rows padded, as a
    driver may): one handed back is flipped to, and nothing is copied anywhere."""
    display = KmsDisplay(parse_mode("1280x720@60"), module=lambda: pykms)
    await display.start()
    card = pykms.Card.last
    buffers = display.buffers()
    assert len(buffers) == 3
    frame = composed(1280, 720)
    for index in (1, 2, 0, 1):
        buffers[index][:] = frame
        buffers[index][:, :8] = index  # which one this is, in its first pixels
        display.show(buffers[index])
        framebuffer, shown = card.flips[-1]
        assert framebuffer is card.framebuffers[index]
        expected = buffers[index].copy()
        assert shown == expected.tobytes()
    buffers[2][:] = 99  # drawn into after its flip: it is the framebuffer's own memory
    assert card.framebuffers[2].pixels() == buffers[2].tobytes()
    assert display.flips == 4
    await display.stop()


async def test_kms_takes_the_mode_asked_for(pykms: ModuleType) -> None:
    display = KmsDisplay(parse_mode("1280x720@60"), module=lambda: pykms)
    await display.start()
    assert display.mode == DisplayMode(1280, 720, 60.0)
    assert pykms.Card.last.modesets[0][1] == (1280, 720, 60)
    bad = KmsDisplay(parse_mode("800x600@75"), module=lambda: pykms)
    with pytest.raises(DeviceFailedError, match="does not offer 800x600@75"):
        await bad.start()


async def test_kms_without_a_screen_is_missing_and_shows_nothing(pykms: ModuleType) -> None:
    pykms.SCREEN["connected"] = False
    display = KmsDisplay(module=lambda: pykms)
    with pytest.raises(DeviceMissingError, match="no screen is connected"):
        await display.start()
    assert display.health.state is HealthState.MISSING
    assert display.mode is None
    with pytest.raises(DeviceMissingError):
        display.show(composed(64, 64))
    assert pykms.Card.last.flips == []


async def test_kms_without_pykms_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pykms", None)  # as if not installed
    display = KmsDisplay()
    with pytest.raises(DeviceMissingError, match="apt install python3-kms"):
        await display.start()


async def test_fake_display_keeps_the_latest_frame_and_takes_faults() -> None:
    display = FakeDisplay(DisplayMode(320, 180, 30))
    await display.start()
    frame = composed(320, 180)
    display.show(frame)
    assert display.latest is not None
    assert np.array_equal(display.latest, frame)
    own = display.buffers()[2]
    own[:] = 7
    display.show(own)
    assert display.latest is own  # its own frame: shown as it is, as KMS does
    with pytest.raises(ValueError, match="on a 320x180@30 screen"):
        display.show(composed(64, 64))
    display.faults.unplug()
    assert display.mode is None
    with pytest.raises(DeviceMissingError):
        display.show(frame)


def test_display_choice_follows_the_setting_and_the_devices(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    assert isinstance(display_for(small_config(display="auto"), dev), NoDisplay)
    (dev / "fb0").touch()
    assert isinstance(display_for(small_config(display="auto"), dev), FbDisplay)
    (dev / "dri").mkdir()
    (dev / "dri" / "card0").touch()
    assert isinstance(display_for(small_config(display="auto"), dev), KmsDisplay)
    assert isinstance(display_for(small_config(display="none"), dev), NoDisplay)
    assert isinstance(display_for(small_config(display="/dev/fb1"), dev), FbDisplay)


async def test_a_box_without_a_screen_reports_nothing_about_it() -> None:
    import hal

    built: Hal = hal.build("fake", small_config())
    async with built:
        assert "display" not in built.health()  # no fault, no alert, no error LED
    with_screen: Hal = hal.build("fake", small_config(display="fake", display_mode="640x360@30"))
    async with with_screen:
        assert with_screen.health()["display"].state is HealthState.OK
        assert with_screen.display.mode == DisplayMode(640, 360, 30.0)


def test_modes_are_parsed_or_refused_in_words() -> None:
    assert parse_mode("1920x1080") == DisplayMode(1920, 1080, 60.0)
    assert str(parse_mode("1280x720@30")) == "1280x720@30"
    for bad in ("big", "1280x720@", "0x0", "1280*720"):
        with pytest.raises(ValueError, match="display mode"):
            parse_mode(bad)


async def test_kms_that_stops_flipping_is_reported_and_opened_again(pykms: ModuleType) -> None:
    display = KmsDisplay(module=lambda: pykms)
    await display.start()
    pykms.Card.last.stuck = True  # the screen went away: flips never complete
    display.show(composed(1920, 1080))  # drawn and flipped; its completion never comes
    with pytest.raises(DeviceFailedError, match="did not flip"):
        display.show(composed(1920, 1080))
    assert display.health.state is HealthState.ERROR
    assert display.mode is None
    await display.start()  # what Hal.keep_parts_open does
    assert display.health.state is HealthState.OK


async def test_fake_display_shows_at_most_one_frame_a_refresh_as_kms_does() -> None:
    display = FakeDisplay(DisplayMode(64, 36, 20))
    await display.start()
    frame = composed(64, 36)
    began = time.monotonic()
    for _ in range(6):
        display.show(frame)
        assert display.lit_at > time.monotonic()  # lit at the next refresh, not before
    # the first is lit at the first refresh, each next one waits for the one before
    assert time.monotonic() - began >= 4 / 20
