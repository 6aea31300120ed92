"""A participant's picture sent already encoded: one solid-colour VP8 keyframe and one
frame that repeats it, encoded once and sent at the frame rate (the keyframe again each
second). Five 640x480@30 senders then cost their machine next to nothing, so the box under
test, not its callers, sets the pace of a benchmark (five encoders on one core fell
behind: the box got fewer pictures in some turns than in others)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from hal.pacing import Pacer


def encoded_pair(width: int, height: int, colour: tuple[int, int, int]) -> tuple[bytes, bytes]:
    """A VP8 keyframe of one colour, and a frame that shows it again."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0"}
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = colour
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    packets = []
    for pts in range(2):
        frame.pts = pts
        packets += codec.encode(frame)
    packets += codec.encode(None)
    key, again = packets
    assert key.is_keyframe
    assert not again.is_keyframe
    return bytes(key), bytes(again)


class EncodedVideo(MediaStreamTrack):
    kind = "video"

    def __init__(self, width: int, height: int, fps: int, colour: tuple[int, int, int]) -> None:
        super().__init__()
        self._key, self._again = encoded_pair(width, height, colour)
        self._fps = fps
        self._pacer = Pacer(1 / fps, buffered=4)  # a late loop sends them all, later
        self.sent = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        await self._pacer.wait()
        packet = av.Packet(self._key if self.sent % self._fps == 0 else self._again)
        packet.pts, packet.time_base = self.sent, Fraction(1, self._fps)
        self.sent += 1
        return packet
