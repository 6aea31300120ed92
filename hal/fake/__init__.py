"""The fake backend: synthetic media and real gpiozero devices on MockFactory pins.

Shipped inside the package so that testers on a laptop drive the same code paths as a
box: ``hal.buttons.press(n)`` drives a mock pin, whose edge goes through gpiozero.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory, MockPWMPin

from hal.bundle import Hal
from hal.config import HalConfig
from hal.display import NoDisplay, parse_mode
from hal.fake.camera import FakeCamera
from hal.fake.display import FakeDisplay
from hal.fake.microphone import FakeMicrophone
from hal.fake.room import AcousticCoupling
from hal.fake.speaker import FakeSpeaker
from hal.gpio import gpio_parts

__all__ = ["FakeCamera", "FakeDisplay", "FakeMicrophone", "FakeSpeaker", "build"]

# buttons and LEDs fail for real: give them a pin the board does not have
_PARTS = ("camera", "microphone", "speaker", "display")

DEFAULT_MODE = "1280x720@30"


def build(config: HalConfig) -> Hal:
    unknown = set(config.fake_faults) - set(_PARTS)
    if unknown:
        raise ValueError(f"fake faults name unknown parts {sorted(unknown)}; parts: {_PARTS}")
    faults = config.fake_faults
    # one factory per HAL, never gpiozero's global Device.pin_factory
    factory = MockFactory(pin_class=MockPWMPin)
    room = None
    if config.fake_echo_delay_ms is not None:
        room = AcousticCoupling(config.fake_echo_delay_ms, config.fake_echo_gain_db)
    buttons, leds = gpio_parts(config, factory)
    return Hal(
        backend="fake",
        camera=FakeCamera(
            config.camera_width,
            config.camera_height,
            config.camera_fps,
            faults.get("camera"),
            busy=config.fake_camera_busy,
            h264=config.fake_camera_h264,
        ),
        microphone=FakeMicrophone(config.fake_audio_source, faults.get("microphone"), room),
        speaker=FakeSpeaker(faults.get("speaker"), room=room),
        buttons=buttons,
        leds=leds,
        display=(
            FakeDisplay(parse_mode(config.display_mode or DEFAULT_MODE), faults.get("display"))
            if config.display == "fake"
            else NoDisplay("no display (the fake HAL has one with display = fake)")
        ),
    )
