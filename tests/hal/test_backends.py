from __future__ import annotations

import pytest

import hal
from hal import HealthState, UnknownBackendError
from tests.hal.conftest import small_config


def test_an_unknown_backend_lists_the_choices() -> None:
    expected = r"unknown HAL backend 'sony'; choices: fake, pi$"
    with pytest.raises(UnknownBackendError, match=expected):
        hal.build("sony", small_config())
    assert issubclass(UnknownBackendError, ValueError)


async def test_a_part_that_fails_to_open_leaves_the_rest_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = small_config(fake_faults={"camera": "missing"}, led_pins={"ready": 99})
    async with hal.build("fake", config) as opened:
        health = opened.health()
        assert health["camera"].state is HealthState.MISSING
        assert health["leds"].state is HealthState.ERROR
        assert "99" in (health["leds"].reason or "")
        assert health["microphone"].state is HealthState.OK
        await opened.microphone.read()
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 2, failures  # one line per failing part
    assert failures[0].startswith("camera: camera unplugged")


def test_fake_faults_must_name_a_media_part() -> None:
    with pytest.raises(ValueError, match="unknown parts"):
        hal.build("fake", small_config(fake_faults={"toaster": "error"}))
