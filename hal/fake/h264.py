"""The fake camera's stand-in for the Pi 4's hardware H.264: its own frames, encoded on a
worker thread by libx264 with what the hardware gives (baseline, SPS/PPS before every
keyframe, keyframes only at the start and on request), so the call engine's
camera-encoded path runs on a laptop.

One difference: libx264 takes a new bitrate only when reopened, which starts with a
keyframe, so a new bitrate takes effect at the next requested keyframe here (the
hardware takes it at once). Otherwise a bitrate change would hand out keyframes nobody
asked for and hide a lost keyframe request.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from hal.errors import DeviceFailedError
from hal.interfaces import VIDEO_CLOCK_RATE, Packet

if TYPE_CHECKING:
    from hal.fake.camera import FakeCamera


class FakeH264Stream:
    def __init__(self, camera: FakeCamera) -> None:
        self._camera = camera
        self._context: av.VideoCodecContext | None = None
        self._bitrate = 0
        self._keyframe = True
        self._running = False
        self._picture: av.VideoFrame | None = None  # the last frame given to the encoder

    def _open(self) -> av.VideoCodecContext:
        context = av.CodecContext.create("libx264", "w")
        context.width, context.height = self._camera.width, self._camera.height
        context.pix_fmt = "yuv420p"
        context.bit_rate = self._bitrate
        context.framerate = Fraction(self._camera.fps, 1)
        context.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        context.profile = "Baseline"
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "repeat-headers=1:keyint=3000:min-keyint=3000:scenecut=0",
        }
        return context

    async def start(self, bitrate: int) -> None:
        self._camera.faults.check()
        self._bitrate, self._keyframe, self._running = bitrate, True, True

    def request_keyframe(self) -> None:
        self._keyframe = True

    def set_bitrate(self, bitrate: int) -> None:
        self._bitrate = bitrate

    async def picture(self) -> av.VideoFrame | None:
        self._camera.faults.check()
        return self._picture

    async def read(self) -> Packet:
        while True:
            if not self._running:
                raise DeviceFailedError("H.264 read before start")
            frame = self._picture = await self._camera.read()
            packets = await asyncio.to_thread(self._encode, frame)
            if packets:
                return packets[0]

    def _encode(self, frame: av.VideoFrame) -> list[Packet]:
        context = self._context
        if context is None or (self._keyframe and context.bit_rate != self._bitrate):
            context = self._context = self._open()
            self._keyframe = True
        frame.pict_type = (
            av.video.frame.PictureType.I if self._keyframe else av.video.frame.PictureType.NONE
        )
        self._keyframe = False
        packets = list(context.encode(frame))
        for packet in packets:
            packet.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return packets

    async def stop(self) -> None:
        self._running = False
        self._context = None
