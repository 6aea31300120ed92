"""The Pi 4's camera path encoding H.264 in hardware: picamera2's ``H264Encoder`` feeds
the camera's buffers to the VideoCore encoder (DMA, no copy through Python) and its
packets are handed to the event loop as they come, for the call engine to send as they
are. Keyframes on request and bitrate changes are V4L2 controls on the encoder's device.

``make_encoder`` and ``set_control`` are the seams a test stands in for, with the
Picamera2 stand-in of `PiCamera`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import av

from hal import v4l2
from hal.errors import DeviceFailedError, DeviceMissingError
from hal.interfaces import Packet

if TYPE_CHECKING:
    from hal.pi.picamera import PiCamera

log = logging.getLogger(__name__)

KEYFRAME_PERIOD = 3000  # frames: keyframes come when a receiver needs one
QUEUE = 30  # about a second of video
SILENT_S = 2.0  # no packet this long: the camera or its encoder has stopped


def make_h264_encoder(bitrate: int) -> Any:
    """picamera2's hardware encoder, set up as WebRTC receivers need it."""
    try:
        encoders = importlib.import_module("picamera2.encoders")
    except ImportError as exc:
        raise DeviceMissingError(f"picamera2 is not installed: {exc}") from exc
    return encoders.H264Encoder(
        bitrate=bitrate, repeat=True, iperiod=KEYFRAME_PERIOD, profile="baseline"
    )


class _Output:
    """picamera2's Output interface: the encoder's thread calls ``outputframe``."""

    def __init__(self, hand_over: Callable[[bytes, bool], None]) -> None:
        self._hand_over = hand_over
        self._loop = asyncio.get_running_loop()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def _add_stream(self, *args: Any, **kwargs: Any) -> None: ...

    def outputframe(
        self,
        frame: bytes,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        if audio:
            return
        with contextlib.suppress(RuntimeError):  # the daemon's loop has closed: nobody reads
            self._loop.call_soon_threadsafe(self._hand_over, bytes(frame), keyframe)


class PiCameraH264:
    def __init__(
        self,
        camera: PiCamera,
        make_encoder: Callable[[int], Any] = make_h264_encoder,
        set_control: Callable[[int, int, int], None] = v4l2.set_control,
        silent_s: float = SILENT_S,
    ) -> None:
        self._camera = camera
        self._make_encoder = make_encoder
        self._set_control = set_control
        self._silent_s = silent_s
        self._encoder: Any = None
        self._queue: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue(QUEUE)
        self._skip_to_keyframe = False

    async def start(self, bitrate: int) -> None:
        await self._camera.start()
        device = self._camera.device
        while not self._queue.empty():  # what the last run left
            self._queue.get_nowait()
        self._skip_to_keyframe = False
        self._encoder = self._make_encoder(bitrate)
        try:
            await asyncio.to_thread(device.start_encoder, self._encoder, _Output(self._hand_over))
        except (RuntimeError, OSError) as exc:
            self._encoder = None
            raise DeviceFailedError(f"Pi camera H.264 encoder: {exc}") from exc
        log.info("Pi camera: hardware H.264 at %d kbit/s", bitrate // 1000)

    def _hand_over(self, data: bytes, keyframe: bool) -> None:
        if self._skip_to_keyframe and not keyframe:
            return
        self._skip_to_keyframe = False
        if self._queue.full():
            # the call fell behind: drop what waits, and start again at a keyframe
            while not self._queue.empty():
                self._queue.get_nowait()
            self._skip_to_keyframe = not keyframe
            if not keyframe:
                self.request_keyframe()
                return
        self._queue.put_nowait((data, keyframe))

    async def read(self) -> Packet:
        if self._encoder is None:
            raise DeviceFailedError("H.264 read before start")
        try:
            async with asyncio.timeout(self._silent_s):
                data, keyframe = await self._queue.get()
        except TimeoutError as exc:
            raise DeviceMissingError(
                f"Pi camera: no H.264 from the encoder for {self._silent_s:g} s"
            ) from exc
        packet = av.Packet(data)
        packet.is_keyframe = keyframe
        return packet

    async def picture(self) -> av.VideoFrame | None:
        # picamera2 hands out the camera's frames while its encoder records them
        return await self._camera.read()

    def request_keyframe(self) -> None:
        self._control(v4l2.FORCE_KEY_FRAME, 1)

    def set_bitrate(self, bitrate: int) -> None:
        self._control(v4l2.BITRATE, bitrate)

    def _control(self, control: int, value: int) -> None:
        device = getattr(self._encoder, "vd", None)
        if device is None:
            return
        try:
            self._set_control(device.fileno(), control, value)
        except (OSError, ValueError) as exc:  # ValueError: the encoder closed its device
            log.warning("Pi camera H.264 encoder refused control %#x: %s", control, exc)

    async def stop(self) -> None:
        encoder, self._encoder = self._encoder, None
        if encoder is None:
            return
        try:
            await asyncio.to_thread(self._camera.device.stop_encoder, encoder)
        except (RuntimeError, OSError, DeviceMissingError) as exc:
            log.warning("Pi camera H.264 encoder did not stop cleanly: %s", exc)
