"""The video pipeline of a call: one source, one shared encoder per negotiated codec."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

import av

from kiosk.call.encoder import SharedEncoder
from kiosk.call.video_source import VideoSource

log = logging.getLogger(__name__)


class VideoPipeline:
    def __init__(self, source: VideoSource, max_bitrate: int, codec: str) -> None:
        self.source = source
        self.max_bitrate = max_bitrate
        self.codec = codec  # the device's choice; a peer may negotiate the other one
        self.encoders: dict[str, SharedEncoder] = {}
        self._latest: av.VideoFrame | None = None
        self._first_frames: set[asyncio.Task[None]] = set()
        # one thread: frames are encoded in order, and it goes away with the call
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-encode")

    def encoder(self, codec: str) -> SharedEncoder:
        """The shared encoder of ``codec`` (``H264`` or ``VP8``), made on first use."""
        encoder = self.encoders.get(codec)
        if encoder is None:
            log.info("video encoder %s %dx%d@%d", codec, self.source.width,
                     self.source.height, self.source.fps)  # fmt: skip
            encoder = self.encoders[codec] = SharedEncoder(
                codec, self.source.width, self.source.height, self.source.fps, self.max_bitrate
            )
            encoder.on_attach = self._first_frame_now
        return encoder

    async def run(self) -> None:
        """Read, encode once per codec, hand out; until cancelled."""
        loop = asyncio.get_running_loop()
        # opening a codec takes milliseconds: do it while ICE and DTLS are still under way
        await loop.run_in_executor(self._executor, self.encoder(self.codec).prepare)
        while True:
            frame = self._latest = await self.source.read()
            for encoder in list(self.encoders.values()):
                if encoder.subscribers:  # nobody to send to: spend no CPU on it
                    await self._encode(encoder, frame)

    async def _encode(self, encoder: SharedEncoder, frame: av.VideoFrame) -> None:
        loop = asyncio.get_running_loop()
        encoder.deliver(await loop.run_in_executor(self._executor, encoder.encode, frame))

    def _first_frame_now(self, encoder: SharedEncoder) -> None:
        """A newcomer sees nothing until a keyframe: make it from the frame just read
        rather than wait up to a frame interval for the next one."""
        if self._latest is None:
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
