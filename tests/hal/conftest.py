"""Every HAL backend that can load on this machine, for the contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from gpiozero import Device

import hal
from hal import Hal, HalConfig

if TYPE_CHECKING:
    import numpy.typing as npt

BUTTON_PINS = {1: 17, 2: 27, 3: 22}
LED_PINS = {"ready": 5, "call": 6, "error": 26}


def small_config(**changes: object) -> HalConfig:
    base: dict[str, object] = {
        "button_pins": BUTTON_PINS,
        "led_pins": LED_PINS,
        "button_hold_seconds": 0.2,
        "button_bounce_seconds": None,
        "camera_width": 320,
        "camera_height": 240,
        "camera_fps": 30,
    }
    base.update(changes)
    return HalConfig(**base)  # type: ignore[arg-type]


def loadable_backends() -> list[str]:
    return hal.names()


MIC_INPUT_SAMPLES = 48_000 * 2


@dataclass(frozen=True)
class AlsaFiles:
    """Test ALSA devices: ``kiosk_mic`` reads ``mic_input``, ``kiosk_speaker`` writes
    ``speaker_output``; neither is paced (the ``null`` PCM underneath is not)."""

    config_home: Path
    mic_input: Path
    speaker_output: Path

    def input_samples(self) -> npt.NDArray[np.int16]:
        return np.fromfile(self.mic_input, dtype=np.int16)

    def output_samples(self) -> npt.NDArray[np.int16]:
        return np.fromfile(self.speaker_output, dtype=np.int16)


@pytest.fixture(scope="session")
def alsa_dir(tmp_path_factory: pytest.TempPathFactory) -> AlsaFiles:
    # alsa-lib reads its configuration once per process: one directory for the session
    home = tmp_path_factory.mktemp("xdg")
    files = AlsaFiles(home, home / "mic.raw", home / "speaker.raw")
    # a ramp: every sample says where in the input it came from
    (np.arange(MIC_INPUT_SAMPLES) % 30_000).astype(np.int16).tofile(files.mic_input)
    (home / "alsa").mkdir()
    (home / "alsa/asoundrc").write_text(
        f'pcm.kiosk_mic {{ type file slave.pcm "null" file "/dev/null" '
        f'infile "{files.mic_input}" format "raw" }}\n'
        f'pcm.kiosk_speaker {{ type file slave.pcm "null" file "{files.speaker_output}" '
        f'format "raw" }}\n'
    )
    return files


@pytest.fixture
def alsa(alsa_dir: AlsaFiles, monkeypatch: pytest.MonkeyPatch) -> AlsaFiles:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(alsa_dir.config_home))
    alsa_dir.speaker_output.unlink(missing_ok=True)
    return alsa_dir


@pytest.fixture
def mock_pins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """gpiozero's own default factory, made a mock one the way a tester would."""
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
        Device.pin_factory = None


def backend_config(name: str, **changes: object) -> HalConfig:
    """The contract config for backend ``name``: the pi backend on this machine's stand-ins."""
    if name == "pi":
        changes = {
            "camera": "lavfi:testsrc2=size=320x240:rate=30",
            "audio_input_device": "kiosk_mic",
            "audio_output_device": "kiosk_speaker",
            **changes,
        }
    return small_config(**changes)


@pytest.fixture(params=loadable_backends())
async def any_hal(
    request: pytest.FixtureRequest, alsa: AlsaFiles, mock_pins: None
) -> AsyncIterator[Hal]:
    async with hal.build(request.param, backend_config(request.param)) as opened:
        yield opened
