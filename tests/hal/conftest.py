"""Every HAL backend that can load on this machine, for the contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import hal
from hal import Hal, HalConfig

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
    # the pi backend joins this list once it can run here (MockFactory pins, file PCM)
    return [name for name in hal.names() if name == "fake"]


@pytest.fixture(params=loadable_backends())
async def any_hal(request: pytest.FixtureRequest) -> AsyncIterator[Hal]:
    async with hal.build(request.param, small_config()) as opened:
        yield opened
