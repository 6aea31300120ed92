"""Encode once, send to every peer.

aiortc encodes separately for every sender (5 peers: 5 encodes). Here each camera frame is
encoded once per codec and the same packets go to every sender: aiortc packetizes an
``Packet`` that a track returns without encoding it again (``RTCRtpSender.pack``).
Keyframe requests from any peer force one keyframe on the shared encoder (coalesced);
the bitrate follows the most constrained peer within the admin's maximum (`rate.py`).

A camera that encodes H.264 itself (the Pi 4's) hands its packets in through
``pass_through``: they go to every sender as they are, and keyframe requests and the
bitrate go to the camera's encoder instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import cast

import av

from hal import VIDEO_CLOCK_RATE, H264Stream
from hal.interfaces import Packet
from kiosk.call.h264 import HARDWARE, SOFTWARE, h264_codec, hardware_failed, with_parameter_sets
from kiosk.call.packet_track import PacketTrack
from kiosk.call.quality import QualityLadder
from kiosk.call.rate import MIN_BITRATE, LossCount, RateControl, SentRate
from kiosk.call.resend import Resends
from kiosk.call.share import VideoShare

log = logging.getLogger(__name__)

KEYFRAME_MIN_INTERVAL_S = 0.25  # five PLIs at once make one keyframe, not five
SUBSCRIBER_QUEUE = 30  # about a second of video
CONGESTED_KEYFRAME_INTERVAL_S = 0.5
LOSS_MIN_PACKETS = 15  # a second's packets before their loss fraction means anything
KEYFRAME_SHARE = 3  # a keyframe's size at most, in frames' shares of the bitrate
ESTIMATE_WARMUP_S = 3.0  # a receiver's estimator starts far below the path's capacity


class SharedEncoder:
    """One PyAV encoder (H264 or VP8) and the tracks that receive its packets."""

    def __init__(
        self,
        codec: str,
        width: int,
        height: int,
        fps: int,
        max_bitrate: int,
        min_bitrate: int = MIN_BITRATE,
    ) -> None:
        self.codec_name = codec
        self.width, self.height, self.fps = width, height, fps
        self.max_bitrate = max_bitrate
        self._context: av.VideoCodecContext | None = None
        self._bitrate = max_bitrate
        self.rate = RateControl(max_bitrate, min_bitrate=min_bitrate)
        self.ladder = QualityLadder(width, height, fps)
        self._last_pts: int | None = None
        self._peer_since: dict[int, float] = {}
        self._counted: set[int] = set()  # the peers whose estimates the rate follows
        self._sent = SentRate()
        self._peer_bitrates: dict[int, int] = {}
        self._peer_losses: dict[int, LossCount] = {}
        self.resends = Resends()
        self._keyframe_wanted = True
        self._last_keyframe = 0.0
        self.share: VideoShare[EncodedVideoTrack] = VideoShare()  # the subscribers
        self.on_attach: Callable[[SharedEncoder], None] = lambda encoder: None
        self.frames_encoded = 0
        self.frames_from_camera = 0
        self.keyframes = 0
        self._camera_encoder: H264Stream | None = None

    # ---- control (event loop) ---------------------------------------------------------

    def request_keyframe(self) -> None:
        self._keyframe_wanted = True

    def set_peer_bitrate(self, peer: int, bitrate: int) -> None:
        self._peer_bitrates[peer] = bitrate
        self._peer_since.setdefault(peer, time.monotonic())

    def _warm(self, now: float) -> set[int]:
        """The peers whose receivers have warmed up: their first seconds of estimates and
        of NACKs (a resumed one asks for what it missed before its pause) say little."""
        return {
            p for p, since in list(self._peer_since.items()) if now - since >= ESTIMATE_WARMUP_S
        }

    def _estimates(self, warm: set[int]) -> list[int]:
        """Each ``warm`` peer's latest estimate."""
        return [bitrate for peer, bitrate in list(self._peer_bitrates.items()) if peer in warm]

    def asked_again(self, peer: int, sequence_numbers: list[int], rtt: float | None) -> list[int]:
        """A peer asked for these packets again (a NACK): count them as lost, and say
        which to send again now (`resend.py`)."""
        now = time.monotonic()
        self._peer_since.setdefault(peer, now)  # a receiver that sends no estimate warms too
        self._peer_losses.setdefault(peer, LossCount()).add(now, sequence_numbers)
        return self.resends.due(now, peer, sequence_numbers, rtt, self.rate.bitrate)

    def _loss(self, now: float, warm: set[int]) -> float:
        """The worst peer's fraction of the last second's packets lost; nothing from a
        handful of packets (a still picture), where one loss would read as a tenth."""
        sent = self._sent.packets(now)
        if sent < LOSS_MIN_PACKETS:
            return 0.0
        counts = [loss.count(now) for peer, loss in list(self._peer_losses.items()) if peer in warm]
        return min(1.0, max(counts, default=0) / sent)

    def _follow_link(self, now: float, sent: float) -> int:
        """The rate to encode at now (`rate.py`), and who is sent video (`share.py`)."""
        warm = self._warm(now)
        if not warm <= self._counted:
            self.rate.new_receiver()
        self._counted = warm
        target = self.rate.update(now, self._estimates(warm), sent, self._loss(now, warm))
        self._share(now)
        return target

    def forget_peer(self, peer: int) -> None:
        self._peer_bitrates.pop(peer, None)
        self._peer_since.pop(peer, None)
        self._peer_losses.pop(peer, None)

    def target_bitrate(self) -> int:
        return self.rate.bitrate

    def sent_bitrate(self) -> int:
        """What was really encoded over the last second, bits/s."""
        return round(self._sent.rate(time.monotonic()))

    def estimated_bitrate(self) -> int | None:
        """The lowest of the receivers' estimates (REMB), bits/s; None before any."""
        return min(self._estimates(self._warm(time.monotonic())), default=None)

    def loss(self) -> float:
        """The worst receiver's fraction of the last second's packets lost."""
        now = time.monotonic()
        return round(self._loss(now, self._warm(now)), 3)

    @property
    def subscribers(self) -> list[EncodedVideoTrack]:
        """The tracks that receive this encoder's packets, paused or not."""
        return self.share.joined()

    def _attach(self, track: EncodedVideoTrack) -> None:
        self.share.join(track)
        # a newcomer decodes nothing until a keyframe; aiortc receivers never ask for one
        self.request_keyframe()
        self.on_attach(self)

    def _detach(self, track: EncodedVideoTrack) -> None:
        self.share.leave(track)

    def _share(self, now: float) -> None:
        """Pause the newest participant's video if the uplink cannot carry everybody at
        the least quality, resume when it can (`share.py`)."""
        starved = self.ladder.lowest and self.rate.at_floor
        paused, resumed = self.share.update(now, starved, self.rate.bitrate, self.rate.min_bitrate)
        if paused is not None:
            self.forget_peer(id(paused))  # its estimates and losses no longer count
            log.warning("video to a participant paused: the uplink cannot carry %d at %d "
                        "kbit/s", len(self.subscribers), self.rate.min_bitrate // 1000)  # fmt: skip
        if resumed is not None:
            self._peer_since[id(resumed)] = now  # warms up again
            self.request_keyframe()
            log.info("video to a participant resumed")

    # ---- packets the camera encoded (event loop) --------------------------------------

    def use_camera_encoder(self, stream: H264Stream | None) -> None:
        """From now on packets come from ``stream``; None: this encoder encodes again."""
        self._camera_encoder = stream
        if stream is None:
            self._keyframe_wanted = True  # receivers start again at our own keyframe
        else:
            stream.set_bitrate(self.rate.bitrate)

    def pass_through(self, packet: Packet, pts: int) -> list[Packet]:
        """A packet the camera's encoder made: follow the link, count it, send it as is."""
        stream = self._camera_encoder
        assert stream is not None
        now = time.monotonic()
        sent = self._sent.rate(now)
        target = self._follow_link(now, sent)
        if target != self._bitrate:
            self._log_rate(target)
            self._bitrate = target
            stream.set_bitrate(target)
            self._context = None  # ours reopens at the new rate when it is needed again
        if self.ladder.update(now, target, sent, self.rate.at_floor):  # down: frames back to us
            self._context = None
        if packet.is_keyframe:
            self.keyframes += 1
            self._keyframe_wanted, self._last_keyframe = False, now
        elif self._keyframe_wanted and now - self._last_keyframe >= self._keyframe_interval():
            stream.request_keyframe()
            self._keyframe_wanted, self._last_keyframe = False, now
        packet.pts, packet.time_base = pts, Fraction(1, VIDEO_CLOCK_RATE)
        self._last_pts = pts
        self.frames_from_camera += 1
        self._sent.add(now, packet.size)
        return [packet]

    def _log_rate(self, target: int) -> None:
        log.info("video bitrate %d -> %d kbit/s: %s",
                 self._bitrate // 1000, target // 1000, self.rate.reason)  # fmt: skip

    def _keyframe_interval(self) -> float:
        # on a congested link a keyframe is large and lost easily: give each a chance
        return CONGESTED_KEYFRAME_INTERVAL_S if self.rate.congested else KEYFRAME_MIN_INTERVAL_S

    # ---- encoding (an executor thread; one frame at a time) ---------------------------

    def _open(self) -> av.VideoCodecContext:
        context: av.VideoCodecContext
        if self.codec_name == "H264" and h264_codec() == HARDWARE:
            context = cast(av.VideoCodecContext, av.CodecContext.create(HARDWARE, "w"))
            context.gop_size = 3000  # keyframes when asked (pict_type I forces one)
            context.profile = "Baseline"
        elif self.codec_name == "H264":
            kbps, fps = self._bitrate // 1000, self.ladder.frame_rate()
            context = cast(av.VideoCodecContext, av.CodecContext.create(SOFTWARE, "w"))
            context.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "level": "31",
                # SPS/PPS before every keyframe, so a receiver can start at any keyframe;
                # no frame, a keyframe included, over three frames' share (see VP8's)
                "x264-params": "repeat-headers=1:keyint=3000:min-keyint=3000:scenecut=0:"
                f"vbv-maxrate={kbps}:vbv-bufsize={KEYFRAME_SHARE * kbps // fps}",
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
                # a keyframe no bigger than three frames' share: each rate change is one,
                # sent at once (aiortc has no pacer), and a full queue drops the tail of a
                # big one (libwebrtc, which paces, allows 9 at 30 fps)
                "max-intra-rate": str(100 * KEYFRAME_SHARE),
            }
        context.width, context.height = self.ladder.size()
        context.pix_fmt = "yuv420p"
        context.bit_rate = self._bitrate
        context.framerate = Fraction(self.ladder.frame_rate(), 1)
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

    def prepare(self) -> None:
        """Open the codec before the first frame needs it."""
        if self._context is None:
            self._bitrate = self.rate.bitrate
            self._context = self._open_with_fallback()
            if not self._context.is_open:
                self._context.open()
            self._keyframe_wanted = True

    def encode(self, frame: av.VideoFrame) -> list[Packet]:
        now = time.monotonic()
        sent = self._sent.rate(now)
        target = self._follow_link(now, sent)
        if self._context is not None and target != self._bitrate:
            self._log_rate(target)
            self._context = None
        if self.ladder.update(now, target, sent, self.rate.at_floor):
            width, height = self.ladder.size()
            rate = self.ladder.frame_rate()
            log.info("video %dx%d@%d for the link (sent %d kbit/s, target %d)",
                     width, height, rate, sent // 1000, target // 1000)  # fmt: skip
            self._context = None
        fitted = self._fit(frame)
        if fitted is None:
            return []
        frame = fitted
        if self._context is None:
            self._bitrate = target
            self._context = self._open_with_fallback()
            self._keyframe_wanted = True
        keyframe = self._keyframe_wanted and now - self._last_keyframe >= self._keyframe_interval()
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
        self._sent.add(now, sum(packet.size for packet in packets))
        return packets

    def _fit(self, frame: av.VideoFrame) -> av.VideoFrame | None:
        """The frame at the ladder's size, or None when the ladder's rate skips it or
        it is not newer than the last one (a newcomer's first frame may be encoded out of
        turn, see `VideoPipeline`)."""
        fps = self.ladder.frame_rate()
        if frame.pts is not None and self._last_pts is not None and frame.pts <= self._last_pts:
            return None
        if (
            fps < self.fps
            and frame.pts is not None
            and self._last_pts is not None
            and frame.pts - self._last_pts < 0.9 * VIDEO_CLOCK_RATE / fps
        ):
            return None
        self._last_pts = frame.pts
        width, height = self.ladder.size()
        if (frame.width, frame.height) == (width, height):
            return frame
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    @property
    def uplink_insufficient(self) -> bool:
        """At the lowest step and the least bitrate, and the link still wants less; or
        somebody's video paused for it."""
        return (self.ladder.lowest and self.rate.at_floor) or bool(self.share.paused)

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
        for track in self.share.sent_to():
            track._offer(packets)

    def close(self) -> None:
        for track in self.subscribers:
            track._end()
            self.share.leave(track)
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
        # a paused peer's picture has stopped: its asking would cost everybody keyframes
        if self._encoder is not None and not self.paused:
            self._encoder.request_keyframe()

    @property
    def paused(self) -> bool:
        """This peer's video is paused: the uplink cannot carry it too (`share.py`)."""
        return self._encoder is not None and self in self._encoder.share.paused

    def set_bitrate(self, bitrate: int) -> None:
        if self._encoder is not None and not self.paused:
            self._encoder.set_peer_bitrate(id(self), bitrate)

    def asked_again(self, sequence_numbers: list[int], rtt: float | None) -> list[int]:
        """The peer asked for these packets again (a NACK): which to send again now."""
        if self._encoder is None or self.paused:
            return []
        return self._encoder.asked_again(id(self), sequence_numbers, rtt)

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
