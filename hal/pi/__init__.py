"""The box's real hardware: Pi camera or USB camera, ALSA sound, GPIO buttons and LEDs.

Every library that exists only on a box (picamera2, pyalsaaudio, lgpio) is imported when
the part that needs it opens, so the backend builds anywhere and a missing part is
reported as ``missing`` instead of stopping the daemon. gpiozero picks its pin factory
itself (lgpio on a Pi 5); ``GPIOZERO_PIN_FACTORY=mock`` runs the same classes on mock pins.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gpiozero import Device, GPIOZeroError

from hal import v4l2
from hal.bundle import Hal
from hal.config import HalConfig
from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.gpio import gpio_parts
from hal.interfaces import Camera
from hal.pi.alsa import AlsaMicrophone, AlsaSpeaker
from hal.pi.av_camera import AvCamera
from hal.pi.picamera import PiCamera, pi_cameras

__all__ = ["AlsaMicrophone", "AlsaSpeaker", "AvCamera", "PiCamera", "build", "camera_for"]

log = logging.getLogger(__name__)


def camera_for(config: HalConfig, sysfs: Path = v4l2.SYSFS_V4L) -> Camera:
    """The camera ``config.camera`` names. ``auto`` is the Pi camera when libcamera sees
    one, else the first USB camera, else the Pi camera still (which reports why it cannot
    work: not installed, no camera, or picamera2 failing to load)."""
    size = (config.camera_width, config.camera_height, config.camera_fps)
    choice = config.camera
    if choice == "auto":
        choice = _auto(sysfs)
    if choice == "picamera2":
        return PiCamera(*size, sysfs=sysfs)
    return AvCamera(choice, *size, input_format=config.camera_input_format)


def _auto(sysfs: Path) -> str:
    try:
        if pi_cameras():
            log.info("camera: the Pi camera (auto)")
            return "picamera2"
        problem: HalError = DeviceMissingError("no Pi camera connected")
    except HalError as exc:
        problem = exc
    usb = v4l2.usb_camera(sysfs)
    if isinstance(problem, DeviceFailedError):  # the box may have a Pi camera it cannot use
        log.error("camera: %s%s", problem, f"; using the USB camera {usb}" if usb else "")
    if usb is None:
        return "picamera2"  # whose health says what is wrong
    log.info("camera: the USB camera %s (auto: %s)", usb, problem)
    return usb


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
