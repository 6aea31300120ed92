"""Buttons and LEDs on gpiozero devices, for any pin factory (real pins or MockFactory)."""

from hal.gpio.buttons import GpioButtons
from hal.gpio.leds import GpioLeds

__all__ = ["GpioButtons", "GpioLeds"]
