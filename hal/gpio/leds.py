"""Status LEDs as gpiozero ``PWMLED``s: off, on, blink and pulse."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from gpiozero import PWMLED, GPIOZeroError

from hal.config import PinName
from hal.errors import DeviceFailedError
from hal.health import Health
from hal.interfaces import OFF, LedChange, LedKind, LedMode

log = logging.getLogger(__name__)


class GpioLeds:
    """Named LEDs. Every change is logged and kept in a bounded, timestamped history."""

    def __init__(self, pins: Mapping[str, PinName], pin_factory: Any, history: int = 1000) -> None:
        self._pins = dict(pins)
        self._factory = pin_factory
        self._leds: dict[str, PWMLED] = {}
        self._state: dict[str, LedMode] = dict.fromkeys(self._pins, OFF)
        self._history: deque[LedChange] = deque(maxlen=history)
        self._health = Health.missing("not started")

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._pins)

    @property
    def health(self) -> Health:
        return self._health

    @property
    def history(self) -> list[LedChange]:
        return list(self._history)

    def state(self) -> Mapping[str, LedMode]:
        return dict(self._state)

    async def start(self) -> None:
        try:
            for name, pin in self._pins.items():
                self._leds[name] = PWMLED(pin, pin_factory=self._factory)
        except (GPIOZeroError, ValueError) as exc:
            self._close()
            self._health = Health.error(f"LED {name} on pin {pin}: {exc}")
            raise DeviceFailedError(self._health.reason) from exc
        self._health = Health.ok()

    def _close(self) -> None:
        for led in self._leds.values():
            led.close()  # also stops blink/pulse threads
        self._leds.clear()

    async def stop(self) -> None:
        self._close()
        self._health = Health.missing("stopped")

    def set(self, name: str, mode: LedMode) -> None:
        if name not in self._pins:
            raise KeyError(f"no LED {name!r}; LEDs: {sorted(self._pins)}")
        if self._state[name] == mode:
            return
        self._state[name] = mode
        self._history.append(LedChange(time.monotonic(), name, mode))
        log.info("LED %s: %s", name, mode)
        led = self._leds.get(name)
        if led is None:  # not started, or failed: remember the wish, drive nothing
            return
        half = 0.5 / mode.rate_hz if mode.rate_hz else 0.5
        if mode.kind is LedKind.OFF:
            led.off()
        elif mode.kind is LedKind.ON:
            led.on()
        elif mode.kind is LedKind.BLINK:
            led.blink(on_time=half, off_time=half, fade_in_time=0, fade_out_time=0)
        else:
            led.pulse(fade_in_time=half, fade_out_time=half)
