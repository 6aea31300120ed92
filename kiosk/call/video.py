"""The video pipeline of a call: one source, one shared encoder per negotiated codec."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from kiosk.call.encoder import SharedEncoder
from kiosk.call.video_source import VideoSource

log = logging.getLogger(__name__)


class VideoPipeline:
    def __init__(self, source: VideoSource, max_bitrate: int) -> None:
        self.source = source
        self.max_bitrate = max_bitrate
        self.encoders: dict[str, SharedEncoder] = {}
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
        return encoder

    async def run(self) -> None:
        """Read, encode once per codec, hand out; until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.source.read()
            for encoder in list(self.encoders.values()):
                if not encoder.subscribers:
                    continue  # nobody to send to: spend no CPU on it
                packets = await loop.run_in_executor(self._executor, encoder.encode, frame)
                encoder.deliver(packets)

    def close(self) -> None:
        for encoder in self.encoders.values():
            encoder.close()
        self.encoders.clear()
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=True, cancel_futures=True)
