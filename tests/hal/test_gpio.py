"""Buttons and LEDs on real gpiozero devices over MockFactory pins."""

from __future__ import annotations

import asyncio
import threading

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from hal import ON, ButtonKind, DeviceFailedError, blink, pulse
from hal.gpio import GpioButtons, GpioLeds


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory(pin_class=MockPWMPin)


@pytest.mark.usefixtures("no_thread_left")
async def test_an_edge_on_gpiozeros_thread_reaches_the_loop(factory: MockFactory) -> None:
    buttons = GpioButtons({4: 17}, factory, hold_seconds=5, bounce_seconds=None)
    await buttons.start()
    pin = factory.pin(17)
    # what a real edge looks like: the callback runs on a thread that is not the loop's
    worker = threading.Thread(target=lambda: (pin.drive_low(), pin.drive_high()))
    worker.start()
    worker.join()
    events = aiter(buttons)
    first = await asyncio.wait_for(anext(events), 5)
    second = await asyncio.wait_for(anext(events), 5)
    assert [(first.number, first.kind), (second.number, second.kind)] == [
        (4, ButtonKind.PRESS),
        (4, ButtonKind.RELEASE),
    ]
    await buttons.stop()


async def test_press_drives_the_pin(factory: MockFactory) -> None:
    buttons = GpioButtons({1: 17}, factory, hold_seconds=5, bounce_seconds=None)
    await buttons.start()
    pin = factory.pin(17)
    pin.clear_states()
    await buttons.press(1)
    assert [s.state for s in pin.states] == [True, False, True]  # pulled up, pressed, released
    await buttons.stop()


async def test_a_pin_the_board_lacks_is_an_error(factory: MockFactory) -> None:
    buttons = GpioButtons({1: 99}, factory)
    with pytest.raises(DeviceFailedError, match="button 1 on pin 99"):
        await buttons.start()
    assert buttons.health.state == "error"


@pytest.mark.usefixtures("no_thread_left")
async def test_leds_drive_their_pins_and_stop_their_threads(factory: MockFactory) -> None:
    leds = GpioLeds({"call": 6, "ready": 5}, factory)
    await leds.start()
    call, ready = factory.pin(6), factory.pin(5)
    leds.set("ready", ON)
    assert ready.state == 1
    leds.set("call", blink(20))
    await asyncio.sleep(0.3)
    assert {s.state for s in call.states} >= {0, 1}  # it really blinked
    leds.set("call", pulse(2))
    await asyncio.sleep(0.3)
    assert any(0 < s.state < 1 for s in call.states)  # pulsing passes through half-bright
    await leds.stop()
