"""What a HAL backend needs to know, independent of how the daemon gets its settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PinName = int | str  # BCM number (17) or a gpiozero pin name ("GPIO17", "BOARD11")


@dataclass(frozen=True, slots=True)
class HalConfig:
    button_pins: Mapping[int, PinName]
    led_pins: Mapping[str, PinName]
    button_hold_seconds: float = 2.0
    button_bounce_seconds: float | None = 0.05
    camera_width: int = 640
    camera_height: int = 480
    camera_fps: int = 30
    # pi backend: "auto", "picamera2", /dev/videoN, a V4L2 camera name, a file, lavfi:<graph>
    camera: str = "auto"
    camera_input_format: str = "mjpeg"  # what a USB camera sends: mjpeg or yuyv422
    # pi backend: ALSA device names (`arecord -L`, `aplay -L`)
    audio_input_device: str = "default"
    audio_output_device: str = "default"
    # the room's screen. pi: "auto" (KMS, else /dev/fb0, else none), "kms", /dev/fbN,
    # "none"; fake: "fake" for a screen that keeps its frames, else none
    display: str = "auto"
    display_mode: str = ""  # WIDTHxHEIGHT@HZ; "" is the screen's preferred (fake: 1280x720@30)
    display_connector: str = ""  # pi, KMS: e.g. HDMI-A-1; "" is the first connected
    # fake backend only: "tone:<Hz>" or the path of an audio file
    fake_audio_source: str = "tone:440"
    # fake backend only: a busy picture (sensor grain) that costs an encoder real bits
    fake_camera_busy: bool = False
    # fake backend only: the camera encodes H.264 itself, as a Pi 4's camera path does
    fake_camera_h264: bool = False
    # fake backend only: the microphone hears the speaker this much later and quieter
    fake_echo_delay_ms: float | None = None
    fake_echo_gain_db: float = -6.0
    # fake backend only: part name -> "missing" | "error", to start with a broken part
    fake_faults: Mapping[str, str] = field(default_factory=dict)
