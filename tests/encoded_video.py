"""A participant's picture sent already encoded, so that a benchmark's callers cost their
machine next to nothing and the box under test, not its callers, sets the pace.

Encoded once, then sent in a loop at the frame rate: a solid colour (a keyframe each
second and frames that repeat it), or two seconds of the fake camera's busy scene (bars, a
box that sweeps across once in those two seconds, fresh grain in every frame: what a real
camera costs a decoder), a keyframe and then the rest."""

from __future__ import annotations

import functools
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from hal.fake import FakeCamera
from hal.pacing import Pacer

BITRATE = 1_000_000  # what aiortc's VP8 encoder reaches on a busy 640x480 picture


def _codec(width: int, height: int, fps: int) -> av.video.codeccontext.VideoCodecContext:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.bit_rate = BITRATE
    codec.gop_size = 1 << 16  # no keyframe but the first
    codec.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
    return codec  # type: ignore[no-any-return]


@functools.cache
def encoded_loop(
    width: int, height: int, fps: int, colour: tuple[int, int, int] | None
) -> tuple[bytes, ...]:
    codec = _codec(width, height, fps)
    if colour is not None:
        rgb = np.empty((height, width, 3), np.uint8)
        rgb[:] = colour
        solid = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frames = [solid, solid]
    else:
        camera = FakeCamera(width, height, fps, busy=True)
        frames = []
        for number in range(2 * fps):
            camera._number = number  # the scene as the camera draws its frame `number`
            frames.append(av.VideoFrame.from_ndarray(camera._render(), format="yuv420p"))
    packets: list[av.Packet] = []
    for pts, frame in enumerate(frames):
        frame.pts = pts
        packets += codec.encode(frame)
    packets += codec.encode(None)
    assert len(packets) == len(frames)
    assert packets[0].is_keyframe
    assert not any(packet.is_keyframe for packet in packets[1:])
    encoded = tuple(bytes(packet) for packet in packets)
    if colour is not None:  # the keyframe each second, the repeat in between
        return encoded[:1] + encoded[1:] * (fps - 1)
    return encoded


class EncodedVideo(MediaStreamTrack):
    kind = "video"

    def __init__(
        self, width: int, height: int, fps: int, colour: tuple[int, int, int] | None = None
    ) -> None:
        super().__init__()
        self._loop = encoded_loop(width, height, fps, colour)
        self._fps = fps
        self._pacer = Pacer(1 / fps, buffered=4)  # a late loop sends them all, later
        self.sent = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        await self._pacer.wait()
        packet = av.Packet(self._loop[self.sent % len(self._loop)])
        packet.pts, packet.time_base = self.sent, Fraction(1, self._fps)
        self.sent += 1
        return packet
