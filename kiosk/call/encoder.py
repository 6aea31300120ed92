"""Encode once, send to every peer.

aiortc encodes separately for every sender (5 peers: 5 encodes). Here each camera frame is
encoded once per codec and the same packets go to every sender: aiortc packetizes an
``Packet`` that a track returns without encoding it again (``RTCRtpSender.pack``).
Keyframe requests from any peer force one keyframe on the shared encoder (coalesced);
the bitrate follows the most constrained peer within the admin's maximum.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import cast

import av

from hal import VIDEO_CLOCK_RATE
from kiosk.call.h264 import HARDWARE, SOFTWARE, h264_codec, hardware_failed, with_parameter_sets
from kiosk.call.packet_track import Packet, PacketTrack

log = logging.getLogger(__name__)

MIN_BITRATE = 150_000
KEYFRAME_MIN_INTERVAL_S = 0.25  # five PLIs at once make one keyframe, not five
RECONFIGURE_MIN_INTERVAL_S = 2.0  # a new bitrate reopens the codec (a keyframe): rarely
RECONFIGURE_THRESHOLD = 0.25
SUBSCRIBER_QUEUE = 30  # about a second of video


class SharedEncoder:
    """One PyAV encoder (H264 or VP8) and the tracks that receive its packets."""

    def __init__(self, codec: str, width: int, height: int, fps: int, max_bitrate: int) -> None:
        self.codec_name = codec
        self.width, self.height, self.fps = width, height, fps
        self.max_bitrate = max_bitrate
        self._context: av.VideoCodecContext | None = None
        self._bitrate = max_bitrate
        self._peer_bitrates: dict[int, int] = {}
        self._last_reconfigure = 0.0
        self._keyframe_wanted = True
        self._last_keyframe = 0.0
        self.subscribers: set[EncodedVideoTrack] = set()
        self.frames_encoded = 0
        self.keyframes = 0

    # ---- control (event loop) ---------------------------------------------------------

    def request_keyframe(self) -> None:
        self._keyframe_wanted = True

    def set_peer_bitrate(self, peer: int, bitrate: int) -> None:
        self._peer_bitrates[peer] = bitrate

    def forget_peer(self, peer: int) -> None:
        self._peer_bitrates.pop(peer, None)

    def target_bitrate(self) -> int:
        lowest = min(self._peer_bitrates.values(), default=self.max_bitrate)
        return max(MIN_BITRATE, min(self.max_bitrate, lowest))

    def _attach(self, track: EncodedVideoTrack) -> None:
        self.subscribers.add(track)
        # a newcomer decodes nothing until a keyframe; aiortc receivers never ask for one
        self.request_keyframe()

    def _detach(self, track: EncodedVideoTrack) -> None:
        self.subscribers.discard(track)

    # ---- encoding (an executor thread; one frame at a time) ---------------------------

    def _open(self) -> av.VideoCodecContext:
        context: av.VideoCodecContext
        if self.codec_name == "H264" and h264_codec() == HARDWARE:
            context = cast(av.VideoCodecContext, av.CodecContext.create(HARDWARE, "w"))
            context.gop_size = 3000  # keyframes when asked (pict_type I forces one)
            context.profile = "Baseline"
        elif self.codec_name == "H264":
            context = cast(av.VideoCodecContext, av.CodecContext.create(SOFTWARE, "w"))
            context.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "level": "31",
                # SPS/PPS before every keyframe, so a receiver can start at any keyframe
                "x264-params": "repeat-headers=1:keyint=3000:min-keyint=3000:scenecut=0",
            }
            context.profile = "Baseline"
        else:
            context = av.CodecContext.create("libvpx", "w")
            context.gop_size = 3000
            context.qmin, context.qmax = 2, 56
            context.options = {
                "cpu-used": "-6",
                "deadline": "realtime",
                "lag-in-frames": "0",
                "static-thresh": "1",
                "undershoot-pct": "100",
                "overshoot-pct": "15",
            }
        context.width, context.height = self.width, self.height
        context.pix_fmt = "yuv420p"
        context.bit_rate = self._bitrate
        context.framerate = Fraction(self.fps, 1)
        context.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return context

    def _open_with_fallback(self) -> av.VideoCodecContext:
        context = self._open()
        if context.codec.name != HARDWARE:
            return context
        try:
            context.open()  # a device that is busy or gone fails here, not mid-call
        except (av.FFmpegError, OSError) as exc:
            hardware_failed(str(exc))
            return self._open()
        return context

    def encode(self, frame: av.VideoFrame) -> list[Packet]:
        now = time.monotonic()
        target = self.target_bitrate()
        if (
            self._context is not None
            and abs(target - self._bitrate) / self._bitrate > RECONFIGURE_THRESHOLD
            and now - self._last_reconfigure > RECONFIGURE_MIN_INTERVAL_S
        ):
            log.info("video bitrate %d -> %d kbit/s", self._bitrate // 1000, target // 1000)
            self._context = None
        if self._context is None:
            self._bitrate = target
            self._last_reconfigure = now
            self._context = self._open_with_fallback()
            self._keyframe_wanted = True
        keyframe = self._keyframe_wanted and now - self._last_keyframe >= KEYFRAME_MIN_INTERVAL_S
        if keyframe:
            self._keyframe_wanted = False
            self._last_keyframe = now
            self.keyframes += 1
        frame.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        packets = list(self._context.encode(frame))
        if self._context.codec.name == HARDWARE:
            packets = [self._self_contained(p) for p in packets]
        for packet in packets:
            # aiortc's packetizer reads pts and time_base; without a time_base it stops
            packet.time_base = Fraction(1, VIDEO_CLOCK_RATE)
            if packet.pts is None:
                packet.pts = frame.pts
        self.frames_encoded += 1
        return packets

    def _self_contained(self, packet: Packet) -> Packet:
        """A hardware keyframe with the SPS/PPS the encoder gave only once in front."""
        assert self._context is not None
        if not packet.is_keyframe:
            return packet
        data = bytes(packet)
        complete = with_parameter_sets(data, bytes(self._context.extradata or b""))
        if complete is data:
            return packet
        out = av.Packet(complete)
        out.pts, out.dts, out.is_keyframe = packet.pts, packet.dts, True
        return out

    def deliver(self, packets: list[Packet]) -> None:
        for track in list(self.subscribers):
            track._offer(packets)

    def close(self) -> None:
        for track in list(self.subscribers):
            track._end()
        self.subscribers.clear()
        self._context = None


class EncodedVideoTrack(PacketTrack):
    """A sender's view of a shared encoder: ``recv()`` returns encoded packets.

    Which encoder is known only once the peer connection has negotiated its codec, which
    is before the sender first asks for media: ``resolve`` is called then.
    """

    kind = "video"

    def __init__(self, resolve: Callable[[], SharedEncoder]) -> None:
        super().__init__(SUBSCRIBER_QUEUE)
        self._resolve = resolve
        self._encoder: SharedEncoder | None = None

    def request_keyframe(self) -> None:
        if self._encoder is not None:
            self._encoder.request_keyframe()

    def set_bitrate(self, bitrate: int) -> None:
        if self._encoder is not None:
            self._encoder.set_peer_bitrate(id(self), bitrate)

    def _offer(self, packets: list[Packet]) -> None:
        for packet in packets:
            try:
                self._queue.put_nowait(packet)
            except asyncio.QueueFull:
                # this peer fell behind: skip to the next keyframe rather than grow
                while not self._queue.empty():
                    self._queue.get_nowait()
                self.request_keyframe()
                return

    async def recv(self) -> Packet:
        if self._encoder is None and self.readyState == "live":
            self._encoder = self._resolve()
            self._encoder._attach(self)
        return await self._next()

    def stop(self) -> None:
        if self._encoder is not None:
            self._encoder._detach(self)
            self._encoder.forget_peer(id(self))
        super().stop()
