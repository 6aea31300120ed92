"""One remote participant: its RTCPeerConnection, what we send it, what it sends us."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    unpack_remb_fci,
)
from aiortc.sdp import candidate_from_sdp

from hal.lazy import lazy_module
from kiosk.call.audio import Mixer
from kiosk.call.encoder import EncodedVideoTrack, SharedEncoder
from kiosk.call.ice import close_peer_connection, rtc_configuration
from kiosk.call.jitter import AudioJitterBuffer
from kiosk.call.video import PictureHook

log = logging.getLogger(__name__)
np = lazy_module("numpy")  # loaded by the first call, not at start-up

CLOSE_TIMEOUT_S = 5.0

# A muted browser or box sends digital silence (exact zeros survive Opus) or nothing; a
# live microphone never does, even in a quiet room (its noise floor).
MUTED_AFTER_S = 0.6


def any_sound(frame: av.AudioFrame) -> bool:
    """Not digital silence (read in place: this runs for every 20 ms of every peer)."""
    count = frame.samples * len(frame.layout.channels)  # the plane may be padded
    return bool(np.frombuffer(frame.planes[0], np.int16, count).any())


class PeerLink:
    def __init__(
        self,
        peer_id: str,
        name: str,
        role: str,
        ice_servers: list[dict[str, Any]],
        encoder_for: Callable[[str], SharedEncoder],
        audio: MediaStreamTrack,
        mixer: Mixer,
        preferred_codec: str,
        on_picture: PictureHook | None = None,
    ) -> None:
        self.peer_id, self.name, self.role = peer_id, name, role
        self._on_picture = on_picture  # a decoded picture came (the room's screen wakes)
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers))
        self.video_frames = 0
        self.audio_frames = 0
        self.created = time.monotonic()
        # when this side's offer or answer was made (or failed): a box too busy to make it
        # in time (a starved CPU, a STUN server that never answers) is not silent, only slow
        self.described_at: float | None = None
        self.video_at = 0.0  # when the latest picture was decoded (0: none yet)
        self.sound_at = 0.0  # the last audio frame that was not digital silence
        self.last_heard = time.monotonic()  # media or RTCP from the peer
        self._mixer = mixer
        self._tasks: set[asyncio.Task[None]] = set()

        video = self.pc.addTransceiver("video", direction="sendrecv")
        prefer = [preferred_codec, "VP8" if preferred_codec == "H264" else "H264"]
        capabilities = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences(
            [c for name in prefer for c in capabilities if c.mimeType == f"video/{name}"]
        )

        def negotiated() -> SharedEncoder:
            # the first negotiated codec is the one the sender uses
            return encoder_for(video._codecs[0].mimeType.split("/")[1].upper())

        self.video_track = EncodedVideoTrack(negotiated)
        video.sender.replaceTrack(self.video_track)
        self._hook_sender(video.sender)
        self.audio_track = audio
        sound = self.pc.addTransceiver(audio, direction="sendrecv")
        # the shared encoder makes Opus: no other audio codec may be negotiated
        sound.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
        )
        # aiortc's audio jitter buffer turns 2 % loss on the way into 9-13 % (jitter.py)
        sound.receiver._RTCRtpReceiver__jitter_buffer = AudioJitterBuffer()  # type: ignore[attr-defined]
        mixer.add(peer_id)
        self._hear_rtcp(sound.sender)
        self.pc.on("track", self._on_track)

    def _hook_sender(self, sender: RTCRtpSender) -> None:
        """aiortc answers a PLI/FIR by flagging its own encoder, unused on the packet path,
        and applies REMB to it too: route both to the shared encoder instead, with the
        packets the peer asks for again (NACK), which tell the encoder of loss; and of
        those, send again only what `resend.py` allows (once a round trip, in a budget)."""
        track = self.video_track
        sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
        original = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                with contextlib.suppress(ValueError):
                    bitrate, _ = unpack_remb_fci(packet.fci)
                    track.set_bitrate(bitrate)
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                rtt = getattr(sender, "_RTCRtpSender__rtt", None)  # aiortc's, from RTCP
                packet.lost = track.asked_again(list(packet.lost), rtt)
                if packet.lost:
                    self._spawn(resend_again(list(packet.lost), max(0.05, rtt or 0.0)))
            await original(packet)

        async def resend_again(lost: list[int], after: float) -> None:
            # aiortc's receiver asks again only when a new gap appears: a lost resend can
            # go unasked until it leaves our history, and then its picture stops for 512
            # packets. A second copy a round trip later makes that rare.
            await asyncio.sleep(after)
            with contextlib.suppress(ConnectionError):  # the peer went meanwhile
                for number in lost:
                    await sender._retransmit(number)

        sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]
        self._hear_rtcp(sender)

    def _hear_rtcp(self, sender: RTCRtpSender) -> None:
        """Any RTCP from the peer is a sign of life (see `alive`)."""
        original = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            self.last_heard = time.monotonic()
            await original(packet)

        sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._spawn(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        audio = track.kind == "audio"
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.last_heard = time.monotonic()
                if audio:
                    self.audio_frames += 1
                    if any_sound(frame):  # type: ignore[arg-type]
                        self.sound_at = self.last_heard
                    self._mixer.push(self.peer_id, frame)  # type: ignore[arg-type]
                else:
                    self.video_frames += 1
                    self.video_at = self.last_heard
                    if self._on_picture is not None:
                        self._on_picture(self.peer_id, frame, self.last_heard)  # type: ignore[arg-type]

    def muted(self, now: float) -> bool:
        """Sending silence or no sound at all (a muted or missing microphone)."""
        return now - max(self.sound_at, self.created) > MUTED_AFTER_S

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def offer(self) -> str:
        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
        finally:
            self.described_at = time.monotonic()
        return self.pc.localDescription.sdp

    async def answer(self, sdp: str) -> str:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        finally:
            self.described_at = time.monotonic()
        return self.pc.localDescription.sdp

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def add_candidate(self, candidate: dict[str, Any] | None) -> None:
        if not candidate or not candidate.get("candidate"):
            return
        parsed = candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await self.pc.addIceCandidate(parsed)

    def alive(self, now: float, silence_s: float) -> bool:
        """Failed, closed, or silent for ``silence_s`` (counted from this side's offer or
        answer, while it is being made never): dead. A peer that sends no media (no camera
        or microphone) is heard by its RTCP reports."""
        if self.pc.connectionState in ("failed", "closed"):
            return False
        if self.described_at is None:
            return True
        return now - max(self.last_heard, self.described_at) < silence_s

    def status(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "name": self.name,
            "role": self.role,
            "connection": self.pc.connectionState,
            "video_frames_received": self.video_frames,
            "audio_frames_received": self.audio_frames,
            "video_paused": self.video_track.paused,
        }

    async def close(self) -> None:
        self.video_track.stop()
        self.audio_track.stop()
        self._mixer.remove(self.peer_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not await close_peer_connection(self.pc, CLOSE_TIMEOUT_S):
            log.warning("closing the connection to %s took over %g s", self.peer_id,
                        CLOSE_TIMEOUT_S)  # fmt: skip
