"""Audio of a call: the microphone (silence while muted, never its samples) and the mix
of every remote participant to the speaker."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hal import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, HalError, Microphone, Speaker
from hal.audio import SILENCE_DBFS, MonoConverter, level_dbfs, mono_frame
from hal.lazy import lazy_module
from hal.pacing import Pacer
from kiosk.call.echo import EchoCanceller

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

MAX_BUFFER_S = 0.2  # per participant: more is latency, so the oldest is dropped
RETRY_S = 2.0


class MicrophoneTrack(MediaStreamTrack):
    """The box's microphone; while muted, or when the microphone fails, silence."""

    kind = "audio"

    def __init__(self, microphone: Microphone, echo: EchoCanceller | None = None) -> None:
        super().__init__()
        self._microphone = microphone
        self._echo = echo or EchoCanceller()
        self.muted = False
        self._pacer = Pacer(AUDIO_FRAME_SAMPLES / AUDIO_SAMPLE_RATE)
        self._pts = 0
        self._retry_at = 0.0
        self._silence = np.zeros(AUDIO_FRAME_SAMPLES, dtype=np.int16)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples: npt.NDArray[np.int16] | None = None
        if time.monotonic() >= self._retry_at:
            try:
                frame = await self._microphone.read()
            except HalError as exc:
                log.warning("microphone unavailable, sending silence: %s", exc)
                self._retry_at = time.monotonic() + RETRY_S
            else:
                samples = frame.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                # also while muted: the canceller keeps learning the room
                samples = self._echo.heard(samples)
        if samples is None:
            await self._pacer.wait()
        if self.muted or samples is None:
            # the samples are dropped here: nothing the microphone heard leaves the box
            samples = self._silence
        out = mono_frame(samples, self._pts)
        self._pts += samples.size
        return out


class Mixer:
    """Sums the latest 20 ms of every participant and plays it on the speaker."""

    def __init__(self, speaker: Speaker, echo: EchoCanceller | None = None) -> None:
        self._speaker = speaker
        self._echo = echo or EchoCanceller()
        self._buffers: dict[str, deque[npt.NDArray[np.int16]]] = {}
        self._converters: dict[str, MonoConverter] = {}
        self._max_frames = int(MAX_BUFFER_S * AUDIO_SAMPLE_RATE / AUDIO_FRAME_SAMPLES)
        self._carry: dict[str, npt.NDArray[np.int16]] = {}
        self._played: deque[npt.NDArray[np.int16]] = deque(maxlen=25)

    def level_dbfs(self) -> float:
        """What the speaker played in the last half second, RMS dBFS."""
        if not self._played:
            return SILENCE_DBFS
        return level_dbfs(np.concatenate(list(self._played)))

    def add(self, peer: str) -> None:
        self._buffers[peer] = deque()
        self._converters[peer] = MonoConverter()
        self._carry[peer] = np.zeros(0, dtype=np.int16)

    def remove(self, peer: str) -> None:
        self._buffers.pop(peer, None)
        self._converters.pop(peer, None)
        self._carry.pop(peer, None)

    def push(self, peer: str, frame: av.AudioFrame) -> None:
        buffer, converter = self._buffers.get(peer), self._converters.get(peer)
        if buffer is None or converter is None:
            return
        samples = np.concatenate([self._carry[peer], converter.convert(frame)])
        whole = samples.size // AUDIO_FRAME_SAMPLES * AUDIO_FRAME_SAMPLES
        for start in range(0, whole, AUDIO_FRAME_SAMPLES):
            buffer.append(samples[start : start + AUDIO_FRAME_SAMPLES])
        self._carry[peer] = samples[whole:]
        while len(buffer) > self._max_frames:
            buffer.popleft()

    async def run(self) -> None:
        """Every 20 ms, until cancelled."""
        pacer = Pacer(AUDIO_FRAME_SAMPLES / AUDIO_SAMPLE_RATE)
        pts = 0
        while True:
            await pacer.wait()
            mix = np.zeros(AUDIO_FRAME_SAMPLES, dtype=np.int32)
            for buffer in self._buffers.values():
                if buffer:
                    mix += buffer.popleft()
            out = np.clip(mix, -32768, 32767).astype(np.int16)
            self._played.append(out)
            self._echo.played(out)
            try:
                await self._speaker.play(mono_frame(out, pts))
            except HalError as exc:
                log.debug("speaker: %s", exc)
            pts += AUDIO_FRAME_SAMPLES
