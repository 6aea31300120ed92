"""Echo cancellation and noise suppression for a box with an open speaker.

The daemon knows what it played (the mixer's output): that is the reference WebRTC's
audio processing module (AEC3 and a high-pass filter; noise suppression when the box's
settings ask, as it costs near-end intelligibility: benchmarks/aec.py) removes from what
the microphone hears. The binding is LiveKit's (`livekit.rtc.AudioProcessingModule`, the
`aec` extra), imported on a thread in the first call the clinic's config wants it for.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hal import AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

CHUNK = AUDIO_SAMPLE_RATE // 100  # the module works on 10 ms
PREPARE_AFTER_S = 0.5


class EchoCanceller:
    """Lives as long as the daemon, so what it learned of the room outlasts a call."""

    def __init__(self, noise_suppression: bool = False) -> None:
        self.enabled = False
        self.noise_suppression = noise_suppression
        self.unavailable: str | None = None
        self._apm: Any = None
        self._rtc: Any = None
        self._reference: npt.NDArray[np.int16] | None = None  # numpy: at the first call

    def load(self) -> bool:
        """Import the module and make the processor (blocking: 28 MB of library); True
        when echo cancellation can run."""
        if self._apm is None and self.unavailable is None:
            try:
                from livekit import rtc
            except ImportError as exc:
                self.unavailable = f"echo cancellation needs the aec extra (livekit): {exc}"
                log.error("%s; the microphone is sent as it is", self.unavailable)
                return False
            self._rtc = rtc
            self._apm = rtc.AudioProcessingModule(
                echo_cancellation=True,
                noise_suppression=self.noise_suppression,
                high_pass_filter=True,
            )
            log.info(
                "echo cancellation on (WebRTC AEC3 through livekit), noise suppression %s",
                "on" if self.noise_suppression else "off",
            )
        return self._apm is not None

    async def prepare(self, after_s: float = PREPARE_AFTER_S) -> None:
        """In a call: load on a thread once the media runs, so the import slows neither
        the daemon's start nor the call's first frames; until then audio passes as is."""
        if self.enabled and self._apm is None and self.unavailable is None:
            await asyncio.sleep(after_s)
            await asyncio.to_thread(self.load)

    def state(self) -> str:
        """``off``, ``on`` or ``unavailable: <why>`` (as of the last call)."""
        if not self.enabled:
            return "off"
        return f"unavailable: {self.unavailable}" if self.unavailable else "on"

    @property
    def active(self) -> bool:
        return self.enabled and self._apm is not None

    def played(self, samples: npt.NDArray[np.int16]) -> None:
        """What went to the speaker, mono 48 kHz."""
        if not self.active:
            return
        pending = samples if self._reference is None else np.concatenate([self._reference, samples])
        whole = pending.size // CHUNK * CHUNK
        for start in range(0, whole, CHUNK):
            self._apm.process_reverse_stream(self._frame(pending[start : start + CHUNK]))
        self._reference = pending[whole:]

    def heard(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """What the microphone heard (a multiple of 10 ms), less the echo."""
        if not self.active:
            return samples
        out = np.empty_like(samples)
        for start in range(0, samples.size, CHUNK):
            frame = self._frame(samples[start : start + CHUNK])
            self._apm.process_stream(frame)
            out[start : start + CHUNK] = np.frombuffer(frame.data, dtype=np.int16)
        return out

    def _frame(self, chunk: npt.NDArray[np.int16]) -> Any:
        return self._rtc.AudioFrame(chunk.tobytes(), AUDIO_SAMPLE_RATE, 1, CHUNK)
