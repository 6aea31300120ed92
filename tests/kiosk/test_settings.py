from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.errors import SettingsError


def test_defaults_are_a_working_fake_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.hal == "fake"
    assert settings.control_socket_path == tmp_path / "control.sock"
    assert settings.button_pins[1] == 17
    assert settings.clinic_url is None


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        'clinic_url = "https://clinic.example"\ncamera_fps = 15\n'
        "[button_pins]\n1 = 5\n2 = 6\n[led_pins]\nready = 12\n"
    )
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    monkeypatch.setenv("KIOSK_CAMERA_FPS", "25")
    monkeypatch.setenv("KIOSK_ICE_HOST_ADDRESSES", "127.0.0.1, 10.0.0.7")
    settings = load_settings()
    assert str(settings.clinic_url) == "https://clinic.example/"
    assert settings.camera_fps == 25
    assert settings.button_pins == {1: 5, 2: 6}
    assert settings.led_pins == {"ready": 12}
    assert settings.ice_host_addresses == ["127.0.0.1", "10.0.0.7"]


def test_every_problem_is_listed_with_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('camera_fps = 500\nbutton_hold_seconds = "long"\ncolour = "blue"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    monkeypatch.setenv("KIOSK_HAL", "raspberry")
    monkeypatch.setenv("KIOSK_ICE_HOST_ADDRESSES", "eth 0")
    monkeypatch.setenv("KIOSK_HAAL", "fake")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    problems = caught.value.problems
    assert "KIOSK_HAAL (environment): unknown setting" in problems
    unknown = "hal (environment KIOSK_HAL): unknown HAL backend 'raspberry'; choices: fake, pi"
    assert unknown in problems
    assert any(p.startswith(f"camera_fps (file {config})") for p in problems)
    assert any(p.startswith(f"button_hold_seconds (file {config})") for p in problems)
    assert any(p.startswith(f"colour (file {config}): Extra inputs") for p in problems)
    assert any("'eth 0' is neither an IP address nor an interface name" in p for p in problems)
    assert len(problems) == 6


def test_pins_used_twice_and_unknown_leds_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_BUTTON_PINS", '{"1": 5}')
    monkeypatch.setenv("KIOSK_LED_PINS", '{"ready": 5, "disco": 7}')
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert "unknown LEDs ['disco']" in text


def test_pins_used_twice_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_BUTTON_PINS", '{"1": 5}')
    monkeypatch.setenv("KIOSK_LED_PINS", '{"ready": 5}')
    with pytest.raises(SettingsError, match=r"GPIO pins used twice .*\['5'\]"):
        load_settings()


def test_a_named_config_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"missing\.toml does not exist"):
        load_settings()


def test_a_broken_toml_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("hal = \n")
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    with pytest.raises(SettingsError, match="cannot read TOML"):
        load_settings()


def test_kiosk_with_bad_settings_exits_2_with_one_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIOSK_HAL", "raspberry")
    monkeypatch.setenv("KIOSK_CAMERA_FPS", "fast")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "run"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kiosk: invalid settings:\n")
    assert "KIOSK_HAL" in result.stderr
    assert "KIOSK_CAMERA_FPS" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--version"], capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout.startswith("kiosk 0.1")


def test_ice_host_addresses_take_interface_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_CONFIG", os.devnull)
    monkeypatch.setenv("KIOSK_ICE_HOST_ADDRESSES", "eth0, 192.168.1.20,wlan0")
    assert load_settings().ice_host_addresses == ["eth0", "192.168.1.20", "wlan0"]
