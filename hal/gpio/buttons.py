"""Physical buttons as gpiozero ``Button``s, delivered to the event loop as events."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gpiozero import Button, GPIOZeroError
from gpiozero.pins.mock import MockPin

from hal.config import PinName
from hal.errors import DeviceFailedError
from hal.health import Health
from hal.interfaces import ButtonEvent, ButtonKind

log = logging.getLogger(__name__)

_TAP_SECONDS = 0.05


class GpioButtons:
    """Buttons wired between a GPIO pin and ground (internal pull-up).

    gpiozero calls back on its own threads (or on whichever thread drove a mock pin), so
    callbacks only hand the event to the loop with ``call_soon_threadsafe``.
    """

    def __init__(
        self,
        pins: Mapping[int, PinName],
        pin_factory: Any,
        hold_seconds: float = 2.0,
        bounce_seconds: float | None = 0.05,
    ) -> None:
        self._pins = dict(pins)
        self._factory = pin_factory
        self._hold = hold_seconds
        self._bounce = bounce_seconds
        self._buttons: dict[int, Button] = {}
        self._queue: asyncio.Queue[ButtonEvent | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._health = Health.missing("not started")

    @property
    def numbers(self) -> frozenset[int]:
        return frozenset(self._pins)

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        try:
            for number, pin in sorted(self._pins.items()):
                button = Button(
                    pin,
                    pull_up=True,
                    bounce_time=self._bounce,
                    hold_time=self._hold,
                    pin_factory=self._factory,
                )
                button.when_pressed = self._emitter(number, ButtonKind.PRESS)
                button.when_released = self._emitter(number, ButtonKind.RELEASE)
                button.when_held = self._emitter(number, ButtonKind.HOLD)
                self._buttons[number] = button
        except (GPIOZeroError, ValueError) as exc:
            self._close()
            self._health = Health.error(f"button {number} on pin {pin}: {exc}")
            raise DeviceFailedError(self._health.reason) from exc
        self._health = Health.ok()

    def _emitter(self, number: int, kind: ButtonKind) -> Any:
        loop = self._loop
        assert loop is not None

        def emit() -> None:
            event = ButtonEvent(number, kind, time.monotonic())
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, event)
            except RuntimeError:  # the loop closed while a gpiozero thread was running
                log.debug("dropped %s after the event loop closed", event)

        return emit

    def _close(self) -> None:
        for button in self._buttons.values():
            button.close()
        self._buttons.clear()

    async def stop(self) -> None:
        self._close()
        self._health = Health.missing("stopped")
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[ButtonEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def press(self, number: int, hold: bool = False) -> None:
        button = self._buttons.get(number)
        if button is None:
            raise KeyError(f"no button {number}; buttons: {sorted(self._buttons)}")
        seconds = self._hold + 0.2 if hold else _TAP_SECONDS
        pin = button.pin
        if isinstance(pin, MockPin):
            # the same path as a finger: the pin's edge goes through gpiozero
            pin.drive_low()
            try:
                await asyncio.sleep(seconds)
            finally:
                pin.drive_high()
            return
        # a real pin cannot be driven from here: inject what gpiozero would have reported
        now = time.monotonic()
        self._queue.put_nowait(ButtonEvent(number, ButtonKind.PRESS, now))
        await asyncio.sleep(seconds)
        if hold:
            self._queue.put_nowait(ButtonEvent(number, ButtonKind.HOLD, now + self._hold))
        self._queue.put_nowait(ButtonEvent(number, ButtonKind.RELEASE, time.monotonic()))
