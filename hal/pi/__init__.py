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
from hal.display import NO_DISPLAY, NoDisplay, parse_mode
from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.gpio import gpio_parts
from hal.interfaces import Camera, Display
from hal.pi.alsa import AlsaMicrophone, AlsaSpeaker
from hal.pi.av_camera import AvCamera
from hal.pi.fbdev import FbDisplay
from hal.pi.kms import KmsDisplay
from hal.pi.picamera import PiCamera, pi_cameras

__all__ = [
    "AlsaMicrophone",
    "AlsaSpeaker",
    "AvCamera",
    "FbDisplay",
    "KmsDisplay",
    "PiCamera",
    "build",
    "camera_for",
    "display_for",
]

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


def display_for(config: HalConfig, dev: Path = Path("/dev")) -> Display:
    """The screen ``config.display`` names. ``auto``: KMS where the kernel has a DRM
    device (its health says why it cannot work: pykms missing, no screen connected),
    else the first framebuffer, else none."""
    choice = config.display
    wanted = parse_mode(config.display_mode) if config.display_mode else None
    if choice == "auto":
        if any(dev.glob("dri/card*")):
            choice = "kms"
        elif (dev / "fb0").exists():
            choice = str(dev / "fb0")
        else:
            return NoDisplay("no display device (/dev/dri, /dev/fb0)")
    if choice == NO_DISPLAY:
        return NoDisplay("display = none")
    if choice == "kms":
        return KmsDisplay(wanted, config.display_connector)
    return FbDisplay(Path(choice))


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
        display=display_for(config),
    )
