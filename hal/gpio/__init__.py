"""Buttons and LEDs on gpiozero devices, for any pin factory (real pins or MockFactory)."""

from __future__ import annotations

from typing import Any

from hal.config import HalConfig
from hal.gpio.buttons import GpioButtons
from hal.gpio.leds import GpioLeds

__all__ = ["GpioButtons", "GpioLeds", "gpio_parts"]


def gpio_parts(config: HalConfig, pin_factory: Any) -> tuple[GpioButtons, GpioLeds]:
    """The buttons and LEDs ``config`` names, on ``pin_factory``'s pins."""
    buttons = GpioButtons(
        config.button_pins,
        pin_factory,
        hold_seconds=config.button_hold_seconds,
        bounce_seconds=config.button_bounce_seconds,
    )
    return buttons, GpioLeds(config.led_pins, pin_factory)
