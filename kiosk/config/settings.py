"""Bootstrap settings of the daemon: environment ``KIOSK_*`` over a TOML file over defaults.

These are the box's local settings (hardware pins, where the clinic is, where state
lives). What the buttons do is the clinic admin's device config, not a setting.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

import hal as hal_pkg
from kiosk.controller import LED_NAMES
from kiosk.errors import SettingsError

DEFAULT_CONFIG_FILE = Path("/etc/kiosk/kiosk.toml")
ENV_PREFIX = "KIOSK_"
SOCKET_NAME = "control.sock"

PinName = int | str

DEFAULT_BUTTON_PINS: dict[int, PinName] = {1: 17, 2: 27, 3: 22, 4: 23, 5: 24, 6: 25}
DEFAULT_LED_PINS: dict[str, PinName] = {
    "ready": 5, "call": 6, "mute": 13, "camera": 19, "error": 26, "patient": 16,
}  # fmt: skip

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
FakePart = Literal["camera", "microphone", "speaker", "display"]
Fault = Literal["missing", "error"]


INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,15}")  # Linux: IFNAMSIZ - 1


def is_address(entry: str) -> bool:
    try:
        ipaddress.ip_address(entry)
    except ValueError:
        return False
    return True


class Settings(BaseSettings):
    """Every setting; environment variable = ``KIOSK_`` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        toml_file=DEFAULT_CONFIG_FILE,
        validate_default=True,
    )

    config: Path = Field(DEFAULT_CONFIG_FILE, description="the TOML settings file")
    hal: str = Field("fake", description="HAL backend: " + ", ".join(hal_pkg.names()))
    clinic_url: AnyHttpUrl | None = Field(None, description="base URL of the clinic service")
    state_dir: Path = Field(
        Path.home() / ".local/state/kiosk", description="credential, cached config, sockets"
    )
    control_socket: Path | None = Field(
        None,
        description="Unix socket of `kiosk press`/`status` (default: in runtime_dir when it "
        "exists, else STATE_DIR/control.sock)",
    )
    runtime_dir: Path = Field(
        Path("/run/kiosk"),
        description="the unit's RuntimeDirectory: the control socket lives here when it "
        "exists, so a read-only state directory does not take it away",
    )
    enrollment_file: Path | None = Field(
        Path("/boot/firmware/kiosk-enroll.toml"),
        description="first boot: code and clinic_url to enroll with, deleted after success",
    )
    ice_host_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma list: the only local addresses (or interfaces) ICE may offer",
    )
    fallback_listen_host: str = Field(
        "0.0.0.0", description="where a LAN fallback host listens (when the admin makes it one)"
    )
    fallback_port: int | None = Field(
        None, ge=1, le=65535, description="the fallback host's port, instead of the admin's"
    )
    clinic_reconnect_max_s: float = Field(
        30.0, gt=0, le=600, description="longest wait between attempts to reach the clinic"
    )
    button_pins: dict[int, PinName] = Field(
        default_factory=lambda: dict(DEFAULT_BUTTON_PINS), description="button number -> GPIO pin"
    )
    led_pins: dict[str, PinName] = Field(
        default_factory=lambda: dict(DEFAULT_LED_PINS), description="LED name -> GPIO pin"
    )
    button_hold_seconds: float = Field(2.0, gt=0, le=30, description="press length of a hold")
    button_bounce_ms: int = Field(50, ge=0, le=1000, description="switch debounce time")
    camera_width: int = Field(640, ge=16, le=3840, multiple_of=2)
    camera_height: int = Field(480, ge=16, le=2160, multiple_of=2)
    camera_fps: int = Field(30, ge=1, le=60)
    camera: str = Field(
        "auto",
        description="pi HAL: auto, picamera2, /dev/videoN, a USB camera's name, or a video file",
    )
    camera_input_format: Literal["mjpeg", "yuyv422"] = Field(
        "mjpeg", description="pi HAL: what a USB camera sends"
    )
    audio_input_device: str = Field("default", description="pi HAL: ALSA capture device")
    audio_output_device: str = Field("default", description="pi HAL: ALSA playback device")
    display: str = Field(
        "auto",
        description="the room's screen. pi HAL: auto (KMS, else /dev/fb0), kms, /dev/fbN, "
        "none; fake HAL: fake (a screen for testers), else none",
    )
    display_mode: str = Field(
        "", description="WIDTHxHEIGHT@HZ (empty: the screen's preferred; fake: 1280x720@30)"
    )
    display_connector: str = Field(
        "", description="pi HAL, KMS: the connector, e.g. HDMI-A-2 (empty: the first connected)"
    )
    display_preview_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="testers: a page on 127.0.0.1:PORT that shows the screen live (MJPEG)",
    )
    noise_suppression: bool = Field(
        False, description="with echo cancellation: also suppress steady noise (HVAC, fans)"
    )
    fake_audio_source: str = Field(
        "tone:440", description="fake mic: tone:<Hz>, silence, or an audio file"
    )
    fake_camera_busy: bool = Field(
        False, description="fake camera: sensor-like grain, so video costs real bits"
    )
    fake_camera_h264: bool = Field(
        False, description="fake camera: encodes H.264 itself, as a Pi 4's camera path does"
    )
    fake_echo_delay_ms: float | None = Field(
        None, ge=0, le=500, description="fake HAL: the mic hears the speaker this much later"
    )
    fake_echo_gain_db: float = Field(-6.0, ge=-60, le=6, description="... at this level")
    fake_faults: dict[FakePart, Fault] = Field(
        default_factory=dict, description='fake HAL: start broken, e.g. {"camera": "missing"}'
    )
    log_level: LogLevel = "INFO"
    terminal: bool | None = Field(
        None, description="keys 1-9 press buttons and a status line shows LEDs (default: if a tty)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("hal")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return hal_pkg.check_name(value)

    @field_validator("led_pins")
    @classmethod
    def _known_leds(cls, value: dict[str, PinName]) -> dict[str, PinName]:
        unknown = sorted(set(value) - set(LED_NAMES))
        if unknown:
            raise ValueError(f"unknown LEDs {unknown}; LEDs the daemon drives: {list(LED_NAMES)}")
        return value

    @field_validator("ice_host_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("ice_host_addresses")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not is_address(entry) and not INTERFACE_NAME.fullmatch(entry):
                raise ValueError(f"{entry!r} is neither an IP address nor an interface name")
        return value

    @field_validator("fake_audio_source")
    @classmethod
    def _valid_audio_source(cls, value: str) -> str:
        from hal.fake.microphone import parse_source

        parse_source(value)
        return value

    @field_validator("display_mode")
    @classmethod
    def _valid_display_mode(cls, value: str) -> str:
        if value:
            from hal.display import parse_mode

            parse_mode(value)
        return value

    @field_validator("display")
    @classmethod
    def _valid_display(cls, value: str) -> str:
        if value not in ("auto", "kms", "none", "fake") and not value.startswith("/dev/fb"):
            raise ValueError(f"{value!r}: expected auto, kms, none, fake or /dev/fbN")
        return value

    @model_validator(mode="after")
    def _distinct_pins(self) -> Settings:
        pins = [str(p) for p in [*self.button_pins.values(), *self.led_pins.values()]]
        shared = sorted({p for p in pins if pins.count(p) > 1})
        if shared:
            raise ValueError(f"GPIO pins used twice across button_pins and led_pins: {shared}")
        return self

    @property
    def control_socket_path(self) -> Path:
        """Where `kiosk status` asks: the candidate a daemon listens on, else the first."""
        candidates = self.control_socket_candidates()
        return next((path for path in candidates if path.exists()), candidates[0])

    def control_socket_candidates(self) -> list[Path]:
        """The runtime directory's socket (when it is there, or ours to make), then the
        state directory's: the daemon takes the first it can listen on."""
        if self.control_socket is not None:
            return [self.control_socket]
        runtime = self.runtime_dir / SOCKET_NAME
        state = self.state_dir / SOCKET_NAME
        if runtime.exists() or (self.runtime_dir.is_dir() and os.access(self.runtime_dir, os.W_OK)):
            return [runtime, state]
        return [state]

    def hal_config(self) -> hal_pkg.HalConfig:
        return hal_pkg.HalConfig(
            button_pins=self.button_pins,
            led_pins=self.led_pins,
            button_hold_seconds=self.button_hold_seconds,
            button_bounce_seconds=self.button_bounce_ms / 1000 or None,
            camera_width=self.camera_width,
            camera_height=self.camera_height,
            camera_fps=self.camera_fps,
            camera=self.camera,
            camera_input_format=self.camera_input_format,
            audio_input_device=self.audio_input_device,
            audio_output_device=self.audio_output_device,
            display=self.display,
            display_mode=self.display_mode,
            display_connector=self.display_connector,
            fake_audio_source=self.fake_audio_source,
            fake_camera_busy=self.fake_camera_busy,
            fake_camera_h264=self.fake_camera_h264,
            fake_echo_delay_ms=self.fake_echo_delay_ms,
            fake_echo_gain_db=self.fake_echo_gain_db,
            fake_faults={str(k): str(v) for k, v in self.fake_faults.items()},
        )


class _ConfigFileOnly(BaseSettings):
    """Reads just KIOSK_CONFIG, to know which file the real settings come from."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    config: Path | None = None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; raise SettingsError listing every problem and its origin.

    ``overrides`` (from the command line) win over the environment and the file.
    """
    env = dict(os.environ)
    problems: list[str] = []
    try:
        explicit = _ConfigFileOnly(**_env_kwargs(env, {"config"})).config
    except ValidationError as exc:
        raise SettingsError([f"KIOSK_CONFIG (environment): {exc.errors()[0]['msg']}"]) from exc
    path = overrides.get("config") or explicit or DEFAULT_CONFIG_FILE
    file_data: dict[str, Any] = {}
    if Path(path).exists():
        try:
            with open(path, "rb") as fh:
                file_data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError([f"{path}: cannot read TOML: {exc}"]) from exc
    elif explicit is not None:
        raise SettingsError([f"KIOSK_CONFIG (environment): file {path} does not exist"])

    fields = set(Settings.model_fields)
    for key in env:
        name = key[len(ENV_PREFIX) :].lower()
        if key.upper().startswith(ENV_PREFIX) and name not in fields:
            problems.append(f"{key} (environment): unknown setting")

    settings_cls = type(
        "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
    )
    try:
        settings: Settings = settings_cls(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            origin = _origin(field, env, file_data, path, overrides)
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where} ({origin}): {message}")
    if problems:
        raise SettingsError(problems)
    return settings


def _env_kwargs(env: dict[str, str], names: set[str]) -> dict[str, Any]:
    return {n: env[ENV_PREFIX + n.upper()] for n in names if ENV_PREFIX + n.upper() in env}


def _origin(
    field: str,
    env: dict[str, str],
    file_data: dict[str, Any],
    path: Path,
    overrides: dict[str, Any],
) -> str:
    if field in overrides:
        return "command line"
    key = ENV_PREFIX + field.upper()
    if any(k.upper() == key for k in env):
        return f"environment {key}"
    if field in file_data:
        return f"file {path}"
    return "default"
