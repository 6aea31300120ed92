"""Encode the microphone once (Opus) for every participant, as the video is.

aiortc would run one Opus encoder per sender; its packetizer accepts an encoded packet
from a track just as for video (``OpusEncoder.pack``).
"""

from __future__ import annotations

import contextlib
import logging
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hal import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.interfaces import Packet
from kiosk.call.packet_track import PacketTrack

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = 50  # a second of audio
TIME_BASE = Fraction(1, AUDIO_SAMPLE_RATE)


class SharedAudioEncoder:
    def __init__(self, source: MediaStreamTrack) -> None:
        self._source = source
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.bit_rate = 64000
        self._codec.format = "s16"
        self._codec.layout = "stereo"
        self._codec.sample_rate = AUDIO_SAMPLE_RATE
        self._codec.time_base = TIME_BASE
        self._codec.options = {"application": "voip"}
        self._resampler = av.AudioResampler(
            format="s16", layout="stereo", rate=AUDIO_SAMPLE_RATE, frame_size=AUDIO_FRAME_SAMPLES
        )
        self._pts = 0
        self.subscribers: set[EncodedAudioTrack] = set()

    def subscribe(self) -> EncodedAudioTrack:
        track = EncodedAudioTrack(self)
        self.subscribers.add(track)
        return track

    async def run(self) -> None:
        """Read the microphone, encode once, hand out; until cancelled or the source ends."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self._source.recv()
                assert isinstance(frame, av.AudioFrame)
                if not self.subscribers:
                    continue
                frame.pts = None
                packets: list[Packet] = []
                for resampled in self._resampler.resample(frame):
                    packets += self._codec.encode(resampled)
                for packet in packets:
                    packet.pts = self._pts
                    packet.time_base = TIME_BASE
                    self._pts += AUDIO_FRAME_SAMPLES
                    for track in list(self.subscribers):
                        track._offer(packet)

    def close(self) -> None:
        for track in list(self.subscribers):
            track._end()
        self.subscribers.clear()


class EncodedAudioTrack(PacketTrack):
    kind = "audio"

    def __init__(self, encoder: SharedAudioEncoder) -> None:
        super().__init__(SUBSCRIBER_QUEUE)
        self._encoder = encoder

    def _offer(self, packet: Packet) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # late audio is useless: drop the oldest
        self._queue.put_nowait(packet)

    async def recv(self) -> Packet:
        return await self._next()

    def stop(self) -> None:
        self._encoder.subscribers.discard(self)
        super().stop()
