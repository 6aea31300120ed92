"""The video pipeline of a call: one source, one shared encoder per negotiated codec.

When every receiver takes H.264 and the camera encodes H.264 itself (a Pi 4), the
camera's packets are sent as they are and no frame is encoded here; a placeholder (camera
off or gone), a lower step of the quality ladder, or a VP8 receiver bring the frames back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av

from hal import H264Stream, HalError
from kiosk.call.encoder import SharedEncoder
from kiosk.call.rate import MIN_BITRATE
from kiosk.call.video_source import VideoSource

log = logging.getLogger(__name__)

SELF_VIEW_FPS = 10  # the box's own picture while the camera encodes: a corner of the screen

# a new picture for the room's screen: whose (a peer id; None: the box's own camera),
# the picture, and when it came (time.monotonic())
PictureHook = Callable[[str | None, av.VideoFrame, float], None]


class VideoPipeline:
    def __init__(
        self, source: VideoSource, max_bitrate: int, codec: str, min_bitrate: int = MIN_BITRATE
    ) -> None:
        self.source = source
        self.max_bitrate, self.min_bitrate = max_bitrate, min_bitrate
        self.codec = codec  # the device's choice; a peer may negotiate the other one
        self.encoders: dict[str, SharedEncoder] = {}
        self._latest: av.VideoFrame | None = None
        self.on_picture: PictureHook | None = None
        # whether a screen wants pictures now (the camera's own are then fetched for it)
        self.screen_on: Callable[[], bool] = lambda: False
        same_size = (source.camera.width, source.camera.height) == (source.width, source.height)
        self._camera_h264 = source.camera.h264() if same_size else None
        self._first_frames: set[asyncio.Task[None]] = set()
        # one thread: frames are encoded in order, and it goes away with the call
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-encode")

    @property
    def latest(self) -> av.VideoFrame | None:
        """The last picture read from the camera (None while the camera encodes itself)."""
        return self._latest

    def encoder(self, codec: str) -> SharedEncoder:
        """The shared encoder of ``codec`` (``H264`` or ``VP8``), made on first use."""
        encoder = self.encoders.get(codec)
        if encoder is None:
            log.info("video encoder %s %dx%d@%d", codec, self.source.width,
                     self.source.height, self.source.fps)  # fmt: skip
            encoder = self.encoders[codec] = SharedEncoder(
                codec, self.source.width, self.source.height, self.source.fps,
                self.max_bitrate, self.min_bitrate,
            )  # fmt: skip
            encoder.on_attach = self._first_frame_now
        return encoder

    async def run(self) -> None:
        """Read, encode once per codec, hand out; until cancelled."""
        loop = asyncio.get_running_loop()
        if self._camera_h264 is None or self.codec != "H264":
            # opening a codec takes milliseconds: do it while ICE and DTLS are under way
            await loop.run_in_executor(self._executor, self.encoder(self.codec).prepare)
        while True:
            if self._camera_encodes():
                await self._send_camera_packets()
                continue
            frame = self._latest = await self.source.read()
            if self.on_picture is not None:
                self.on_picture(None, frame, time.monotonic())
            if self._camera_encodes():
                continue  # a receiver arrived while the frame was read: the camera encodes
            for encoder in list(self.encoders.values()):
                if encoder.subscribers:  # nobody to send to: spend no CPU on it
                    await self._encode(encoder, frame)

    def _camera_encodes(self) -> bool:
        """Whether the camera's own H.264 can be sent now."""
        h264 = self.encoders.get("H264")
        return (
            self._camera_h264 is not None
            and h264 is not None
            and bool(h264.subscribers)
            and h264.ladder.full
            and not any(e.subscribers for e in self.encoders.values() if e is not h264)
            and self.source.camera_ready()
        )

    async def _send_camera_packets(self) -> None:
        """The camera's packets to the H.264 receivers, until that stops being right."""
        encoder = self.encoders["H264"]
        stream = self._camera_h264
        assert stream is not None
        try:
            await stream.start(encoder.target_bitrate())
        except HalError as exc:
            self.source.camera_failed(exc)
            return
        log.info("sending the camera's own H.264")
        encoder.use_camera_encoder(stream)
        self_view = asyncio.create_task(self._show_self(stream), name="self-view")
        try:
            while self._camera_encodes():
                try:
                    packet = await stream.read()
                except HalError as exc:
                    self.source.camera_failed(exc)
                    return
                if not self.source.camera_enabled:
                    return  # turned off while this frame was on its way: it stays here
                self.source.camera_worked()
                encoder.deliver(encoder.pass_through(packet, self.source.pts()))
        finally:
            self_view.cancel()
            await asyncio.gather(self_view, return_exceptions=True)
            encoder.use_camera_encoder(None)
            await stream.stop()
            log.info("encoding video here again")

    async def _show_self(self, stream: H264Stream) -> None:
        """While the camera encodes, no frame passes here: the screen's picture of the box
        itself is fetched from the camera, at a corner's rate, and only for a screen."""
        while True:
            await asyncio.sleep(1 / SELF_VIEW_FPS)
            if self.on_picture is None or not self.screen_on():
                continue
            try:
                picture = await stream.picture()
            except HalError:
                continue  # the packets' reader tells of the camera's failure
            if picture is not None and self.source.camera_enabled:
                self.on_picture(None, picture, time.monotonic())

    async def _encode(self, encoder: SharedEncoder, frame: av.VideoFrame) -> None:
        loop = asyncio.get_running_loop()
        encoder.deliver(await loop.run_in_executor(self._executor, encoder.encode, frame))

    def _first_frame_now(self, encoder: SharedEncoder) -> None:
        """A newcomer sees nothing until a keyframe: make it from the frame just read
        rather than wait up to a frame interval for the next one."""
        if self._latest is None or self._camera_encodes():
            return
        task = asyncio.create_task(self._encode(encoder, self._latest), name="first-frame")
        self._first_frames.add(task)
        task.add_done_callback(self._first_frame_done)

    def _first_frame_done(self, task: asyncio.Task[None]) -> None:
        self._first_frames.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("first frame not encoded", exc_info=task.exception())

    def close(self) -> None:
        for task in self._first_frames:
            task.cancel()
        for encoder in self.encoders.values():
            encoder.close()
        self.encoders.clear()
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=True, cancel_futures=True)
