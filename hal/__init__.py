"""Hardware abstraction layer: interfaces for the box's peripherals and their backends.

``hal`` imports nothing of ``kiosk`` or ``clinic``.
"""

from hal.backends import build, check_name, names
from hal.bundle import Hal
from hal.config import HalConfig
from hal.errors import DeviceFailedError, DeviceMissingError, HalError, UnknownBackendError
from hal.health import Health, HealthState
from hal.interfaces import (
    AUDIO_FRAME_SAMPLES,
    AUDIO_SAMPLE_RATE,
    OFF,
    ON,
    VIDEO_CLOCK_RATE,
    ButtonEvent,
    ButtonKind,
    Buttons,
    Camera,
    Device,
    Display,
    DisplayMode,
    H264Stream,
    LedChange,
    LedKind,
    LedMode,
    Leds,
    Microphone,
    Speaker,
    blink,
    pulse,
)

__all__ = [
    "AUDIO_FRAME_SAMPLES",
    "AUDIO_SAMPLE_RATE",
    "OFF",
    "ON",
    "VIDEO_CLOCK_RATE",
    "ButtonEvent",
    "ButtonKind",
    "Buttons",
    "Camera",
    "Device",
    "DeviceFailedError",
    "DeviceMissingError",
    "Display",
    "DisplayMode",
    "H264Stream",
    "Hal",
    "HalConfig",
    "HalError",
    "Health",
    "HealthState",
    "LedChange",
    "LedKind",
    "LedMode",
    "Leds",
    "Microphone",
    "Speaker",
    "UnknownBackendError",
    "blink",
    "build",
    "check_name",
    "names",
    "pulse",
]
