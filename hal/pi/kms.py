"""The screen through the kernel's KMS/DRM, with Raspberry Pi OS's ``python3-kms++``
(pykms, the library of picamera2's DRM preview): three dumb framebuffers, which the box
draws into in turn (`buffers`) and which are shown by a page flip at the next vertical
blank, so a frame never tears and is never copied. With three, one is on the screen, one
may wait for its flip, and the box draws into the third meanwhile. Any other frame is
copied into the buffer after the one on the screen.

``module`` is the seam: it returns pykms or anything with the same names (tests give a
stand-in that records the flips). pykms is imported only when the display opens.
"""

from __future__ import annotations

import importlib
import logging
import select
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hal.display import OpenedDisplay
from hal.errors import DeviceFailedError, DeviceMissingError
from hal.health import Health
from hal.interfaces import DisplayMode
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np

    from hal.interfaces import Canvas
else:
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

FLIP_TIMEOUT_S = 0.5  # many refreshes: a flip that takes longer never comes
BUFFERS = 3


def import_pykms() -> Any:
    """pykms; DeviceMissingError when it is not installed, DeviceFailedError when it is
    but does not load."""
    try:
        return importlib.import_module("pykms")
    except ImportError as exc:
        if exc.name == "pykms":
            raise DeviceMissingError("pykms is not installed (apt install python3-kms++)") from exc
        raise DeviceFailedError(f"pykms does not load: {exc}") from exc
    except Exception as exc:
        raise DeviceFailedError(f"pykms does not load: {type(exc).__name__}: {exc}") from exc


class KmsDisplay(OpenedDisplay):
    def __init__(
        self,
        wanted: DisplayMode | None = None,
        connector: str = "",
        module: Callable[[], Any] = import_pykms,
    ) -> None:
        super().__init__("not opened yet")
        self._wanted = wanted
        self._connector = connector
        self._module = module
        self._card: Any = None
        self._crtc: Any = None
        self._buffers: list[tuple[Any, Canvas]] = []
        self._front = 0
        self._flip_pending = False
        self._flipped_at = 0.0  # when the pending flip was asked for
        self._flip_event: Any = None
        self.flips = 0

    def _open(self) -> None:
        kms = self._module()
        try:
            card = kms.Card()
        except (OSError, RuntimeError) as exc:
            raise DeviceMissingError(f"no DRM device: {exc}") from exc
        resources = kms.ResourceManager(card)
        connector = resources.reserve_connector(self._connector)
        if connector is None:
            raise DeviceMissingError(f"no display connector {self._connector or '(any)'}")
        if not connector.connected():
            raise DeviceMissingError("no screen is connected")
        crtc = resources.reserve_crtc(connector)
        if crtc is None:
            raise DeviceFailedError("no display controller (CRTC) is free")
        wanted = self._wanted
        if wanted is None:
            mode = connector.get_default_mode()
        else:
            try:
                refresh = round(wanted.refresh_hz)
                mode = connector.get_mode(wanted.width, wanted.height, refresh, False)
            except (RuntimeError, ValueError) as exc:
                raise DeviceFailedError(f"the screen does not offer {wanted}: {exc}") from exc
        width, height = int(mode.hdisplay), int(mode.vdisplay)
        for _ in range(BUFFERS):
            buffer = kms.DumbFramebuffer(card, width, height, "XR24")
            # the mapping itself, rows ``stride`` bytes apart (a driver may pad them)
            pixels: Canvas = np.ndarray(
                (height, width, 4), np.uint8, buffer=buffer.map(0),
                strides=(int(buffer.stride(0)), 4, 1),
            )  # fmt: skip
            self._buffers.append((buffer, pixels))
        self._card, self._crtc = card, crtc
        self._flip_event = kms.DrmEventType.FLIP_COMPLETE
        crtc.set_mode(connector, self._buffers[0][0], mode)
        self._front = 0
        self._mode = DisplayMode(width, height, float(mode.vrefresh))
        log.info("display %s through KMS", self._mode)

    def _wait_for_flip(self) -> None:
        if not self._flip_pending:
            return
        readable, _, _ = select.select([self._card.fd], [], [], FLIP_TIMEOUT_S)
        if not readable:
            raise DeviceFailedError(f"the screen did not flip in {FLIP_TIMEOUT_S} s")
        for event in self._card.read_events():
            if event.type == self._flip_event:
                self._flip_pending = False

    def free_at(self) -> float:
        """A flip is done by the first vertical blank after it was asked for."""
        if not self._flip_pending or self._mode is None:
            return 0.0
        return self._flipped_at + 1 / self._mode.refresh_hz

    def buffers(self) -> Sequence[Canvas]:
        return [pixels for _, pixels in self._buffers]

    def show(self, frame: Canvas) -> None:
        if self._crtc is None or self._mode is None:
            raise DeviceMissingError(self._health.reason or "the display is not open")
        try:
            self._flip_to(frame)
        except DeviceFailedError as exc:
            # unplugged, or the driver gave up: reported, and opened again by the HAL
            self._health = Health.of_exception(exc)
            raise

    def _flip_to(self, frame: Canvas) -> None:
        assert self._mode is not None
        self._wait_for_flip()  # one flip at a time
        back = next((i for i, (_, pixels) in enumerate(self._buffers) if pixels is frame), None)
        if back is None:
            back = (self._front + 1) % len(self._buffers)
            self._buffers[back][1][:] = frame
        buffer = self._buffers[back][0]
        try:
            self._crtc.page_flip(buffer, self)
        except (OSError, RuntimeError) as exc:
            raise DeviceFailedError(f"page flip failed: {exc}") from exc
        self._flip_pending = True
        self._flipped_at = time.monotonic()
        self._front = back
        self.flips += 1

    async def stop(self) -> None:
        self._buffers = []  # the numpy views first: they hold the mappings
        self._crtc = self._card = None
        self._flip_pending = False
