"""The set of peripherals of one box, opened and closed together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from hal.display import NoDisplay
from hal.errors import DeviceMissingError, HalError
from hal.health import Health, HealthState
from hal.interfaces import Buttons, Camera, Device, Display, Leds, Microphone, Speaker

log = logging.getLogger(__name__)

# most boxes have no screen: its absence is no fault, and not reported
OPTIONAL = frozenset({"display"})


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
    display: Display = field(default_factory=NoDisplay)

    def parts(self) -> Iterator[tuple[str, Device]]:
        yield "camera", self.camera
        yield "microphone", self.microphone
        yield "speaker", self.speaker
        yield "buttons", self.buttons
        yield "leds", self.leds
        yield "display", self.display

    def health(self) -> dict[str, Health]:
        """Every part's health; an optional part (the screen) only where there is one."""
        return {
            name: part.health
            for name, part in self.parts()
            if not (name in OPTIONAL and part.health.state is HealthState.MISSING)
        }

    async def __aenter__(self) -> Hal:
        for name, part in self.parts():
            try:
                await part.start()
            except DeviceMissingError as exc:
                if name not in OPTIONAL:
                    log.error("%s: %s (the daemon keeps running without it)", name, exc)
                else:
                    log.info("%s: %s", name, exc)
            except HalError as exc:
                log.error("%s: %s (the daemon keeps running without it)", name, exc)
        return self

    async def keep_parts_open(self, first_retry_s: float = 2.0, max_retry_s: float = 60.0) -> None:
        """Until cancelled: a part that is not working is opened again, each part on its
        own exponential backoff, so a camera or sound card plugged in later is picked up."""
        delays: dict[str, float] = {}
        due: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for name, part in self.parts():
                if part.health.state is HealthState.OK:
                    delays.pop(name, None)
                    due.pop(name, None)
                    continue
                if now < due.setdefault(name, now + first_retry_s):
                    continue
                try:
                    await part.start()
                except HalError as exc:
                    delays[name] = min(max_retry_s, delays.get(name, first_retry_s) * 2)
                    due[name] = time.monotonic() + delays[name]
                    log.debug(
                        "%s still not working (%s); next try in %.0f s", name, exc, delays[name]
                    )
                else:
                    log.info("%s works again", name)
            await asyncio.sleep(min(1.0, first_retry_s))

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
