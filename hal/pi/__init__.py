"""The box's real hardware: Pi camera or USB camera, ALSA sound, GPIO buttons and LEDs.

Every library that exists only on a box (picamera2, pyalsaaudio, lgpio) is imported when
the part that needs it opens, so the backend builds anywhere and a missing part is
reported as ``missing`` instead of stopping the daemon. gpiozero picks its pin factory
itself (lgpio on a Pi 5); ``GPIOZERO_PIN_FACTORY=mock`` runs the same classes on mock pins.
"""

from __future__ import annotations

import importlib.util
import logging

from gpiozero import Device, GPIOZeroError

from hal.bundle import Hal
from hal.config import HalConfig
from hal.gpio import gpio_parts
from hal.interfaces import Camera
from hal.pi.alsa import AlsaMicrophone, AlsaSpeaker
from hal.pi.av_camera import AvCamera
from hal.pi.picamera import PiCamera

__all__ = ["AlsaMicrophone", "AlsaSpeaker", "AvCamera", "PiCamera", "build", "camera_for"]

log = logging.getLogger(__name__)


def camera_for(config: HalConfig) -> Camera:
    """The camera ``config.camera`` names; ``auto`` is the Pi camera when picamera2 is
    installed, else the first USB camera."""
    size = (config.camera_width, config.camera_height, config.camera_fps)
    choice = config.camera
    if choice == "auto":
        choice = "picamera2" if importlib.util.find_spec("picamera2") else "/dev/video0"
        log.info("camera: %s (auto)", choice)
    if choice == "picamera2":
        return PiCamera(*size)
    return AvCamera(choice, *size, input_format=config.camera_input_format)


def build(config: HalConfig) -> Hal:
    try:
        factory = Device.ensure_pin_factory()
    except GPIOZeroError as exc:  # not a Pi: buttons and LEDs report it when they start
        log.error("GPIO: %s", exc)
        factory = None
    buttons, leds = gpio_parts(config, factory)
    return Hal(
        backend="pi",
        camera=camera_for(config),
        microphone=AlsaMicrophone(config.audio_input_device),
        speaker=AlsaSpeaker(config.audio_output_device),
        buttons=buttons,
        leds=leds,
    )
