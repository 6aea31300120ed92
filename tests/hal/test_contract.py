"""What every HAL backend must do; runs unchanged against each backend that loads here."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from fractions import Fraction

import av
import numpy as np
import pytest

import hal
from hal import (
    AUDIO_FRAME_SAMPLES,
    AUDIO_SAMPLE_RATE,
    OFF,
    ON,
    ButtonEvent,
    ButtonKind,
    Hal,
    HealthState,
    blink,
    pulse,
)
from hal.audio import mono_frame


async def test_every_part_is_healthy_after_start(any_hal: Hal) -> None:
    assert {name: h.state for name, h in any_hal.health().items()} == {
        "camera": HealthState.OK,
        "microphone": HealthState.OK,
        "speaker": HealthState.OK,
        "buttons": HealthState.OK,
        "leds": HealthState.OK,
    }


async def test_camera_gives_paced_frames_with_real_timestamps(any_hal: Hal) -> None:
    camera = any_hal.camera
    started = time.monotonic()
    frames = [await camera.read() for _ in range(10)]
    elapsed = time.monotonic() - started
    for frame in frames:
        assert isinstance(frame, av.VideoFrame)
        assert (frame.width, frame.height) == (camera.width, camera.height)
        assert frame.time_base == Fraction(1, hal.VIDEO_CLOCK_RATE)
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    period = hal.VIDEO_CLOCK_RATE / camera.fps
    # mostly a frame interval apart, never much less; more where a reader too slow (a
    # busy or emulated machine) let frames go by, as a camera drops frames nobody read
    steps = [(b - a) / period for a, b in itertools.pairwise(pts)]
    assert min(steps) >= 0.75, steps
    assert statistics.median(steps) == pytest.approx(1, abs=0.25), steps
    # paced like a camera: never faster than real time
    assert elapsed >= 8 / camera.fps


async def test_microphone_gives_20ms_mono_48k_frames(any_hal: Hal) -> None:
    frames = [await any_hal.microphone.read() for _ in range(5)]
    for frame in frames:
        assert frame.sample_rate == AUDIO_SAMPLE_RATE
        assert frame.samples == AUDIO_FRAME_SAMPLES
        assert frame.layout.name == "mono"
        assert frame.format.name == "s16"
        assert frame.time_base == Fraction(1, AUDIO_SAMPLE_RATE)
    assert [f.pts for f in frames] == [frames[0].pts + i * AUDIO_FRAME_SAMPLES for i in range(5)]


async def test_speaker_accepts_what_aiortc_decodes(any_hal: Hal) -> None:
    # aiortc's Opus decoder gives s16 stereo at 48 kHz; the mic gives mono
    stereo = av.AudioFrame.from_ndarray(
        np.zeros((1, 2 * AUDIO_FRAME_SAMPLES), dtype=np.int16), format="s16", layout="stereo"
    )
    stereo.sample_rate = AUDIO_SAMPLE_RATE
    await any_hal.speaker.play(stereo)
    await any_hal.speaker.play(mono_frame(np.zeros(AUDIO_FRAME_SAMPLES, dtype=np.int16), 0))
    assert any_hal.speaker.health.state is HealthState.OK


async def _next(events: object) -> ButtonEvent:
    return await asyncio.wait_for(anext(events), 5)  # type: ignore[call-overload, no-any-return]


async def test_a_press_is_a_press_then_a_release(any_hal: Hal) -> None:
    events = aiter(any_hal.buttons)
    await any_hal.buttons.press(2)
    press, release = await _next(events), await _next(events)
    assert (press.number, press.kind) == (2, ButtonKind.PRESS)
    assert (release.number, release.kind) == (2, ButtonKind.RELEASE)
    assert press.time <= release.time <= time.monotonic()


async def test_a_long_press_is_a_hold(any_hal: Hal) -> None:
    events = aiter(any_hal.buttons)
    await any_hal.buttons.press(1, hold=True)
    kinds = [(await _next(events)).kind for _ in range(3)]
    assert kinds == [ButtonKind.PRESS, ButtonKind.HOLD, ButtonKind.RELEASE]


async def test_pressing_a_button_that_does_not_exist_is_a_key_error(any_hal: Hal) -> None:
    assert any_hal.buttons.numbers == frozenset({1, 2, 3})
    with pytest.raises(KeyError, match="no button 9"):
        await any_hal.buttons.press(9)


async def test_leds_take_every_mode_and_remember_it(any_hal: Hal) -> None:
    leds = any_hal.leds
    assert leds.names == frozenset({"ready", "call", "error"})
    assert set(leds.state().values()) == {OFF}
    for mode in (ON, blink(4), pulse(1), OFF):
        leds.set("call", mode)
        assert leds.state()["call"] == mode
    assert [c.mode for c in leds.history if c.name == "call"] == [ON, blink(4), pulse(1), OFF]
    with pytest.raises(KeyError, match="no LED 'purple'"):
        leds.set("purple", ON)


@pytest.mark.usefixtures("alsa", "mock_pins")
async def test_button_events_end_when_the_hal_stops() -> None:
    from tests.hal.conftest import backend_config, loadable_backends

    for name in loadable_backends():
        opened = hal.build(name, backend_config(name))
        async with opened:
            events = aiter(opened.buttons)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), 5)
        assert opened.leds.health.state is not HealthState.OK
