"""The set of peripherals of one box, opened and closed together."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from hal.errors import HalError
from hal.health import Health
from hal.interfaces import Buttons, Camera, Device, Leds, Microphone, Speaker

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Hal:
    """All peripherals of a box. ``async with hal:`` starts every part; a part that fails
    to start is logged once and reports ``missing``/``error`` while the rest runs."""

    backend: str
    camera: Camera
    microphone: Microphone
    speaker: Speaker
    buttons: Buttons
    leds: Leds

    def parts(self) -> Iterator[tuple[str, Device]]:
        yield "camera", self.camera
        yield "microphone", self.microphone
        yield "speaker", self.speaker
        yield "buttons", self.buttons
        yield "leds", self.leds

    def health(self) -> dict[str, Health]:
        return {name: part.health for name, part in self.parts()}

    async def __aenter__(self) -> Hal:
        for name, part in self.parts():
            try:
                await part.start()
            except HalError as exc:
                log.error("%s: %s (the daemon keeps running without it)", name, exc)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for name, part in reversed(list(self.parts())):
            try:
                await part.stop()
            except HalError as stop_exc:
                log.error("%s: failed to stop: %s", name, stop_exc)
