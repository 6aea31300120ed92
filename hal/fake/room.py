"""A fake room's acoustics: the fake microphone hears what the fake speaker played,
later and quieter, as a box's microphone hears its own open speaker."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from hal.interfaces import AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

REFLECTION_DELAY_S = 0.007  # a wall: a second, weaker path
REFLECTION_GAIN_DB = -9.0
KEEP_S = 1.0  # what was played stays audible for the microphone this long
LATE_S = 0.02  # a speaker this late with its next frame has run dry and starts anew


def sample_index(at: float) -> int:
    """The sample of the room's clock that plays at ``time.monotonic()`` time ``at``."""
    return round(at * AUDIO_SAMPLE_RATE)


class AcousticCoupling:
    """The air between speaker and microphone: direct path ``delay_ms`` later at
    ``gain_db``, plus one reflection.

    Both ends run on the room's clock, as hardware does, not on when the daemon gets to
    them: what the speaker plays is placed on it (right after what it played last, or now
    if it ran dry), and the microphone hears the samples of its own frame's time; so a
    daemon late under load hears the echo exactly as late as a box's microphone would.
    """

    def __init__(self, delay_ms: float, gain_db: float) -> None:
        self.delay = int(delay_ms / 1000 * AUDIO_SAMPLE_RATE)
        self.gain = 10 ** (gain_db / 20)
        self._reflection = int(REFLECTION_DELAY_S * AUDIO_SAMPLE_RATE)
        self._reflection_gain = self.gain * 10 ** (REFLECTION_GAIN_DB / 20)
        # what the speaker played: (the room clock's sample it began at, the samples)
        self._played: deque[tuple[int, npt.NDArray[np.float32]]] = deque()
        self._end = 0  # the sample after the last one played
        self._lock = threading.Lock()  # the speaker and the microphone may be on threads

    def played(self, samples: npt.NDArray[np.int16], at: float | None = None) -> None:
        """The speaker plays ``samples`` (handed over at ``at``, by default now)."""
        now = sample_index(time.monotonic() if at is None else at)
        with self._lock:
            start = self._end if now - self._end < LATE_S * AUDIO_SAMPLE_RATE else now
            self._played.append((start, samples.astype(np.float32)))
            self._end = start + samples.size
            keep_from = now - int(KEEP_S * AUDIO_SAMPLE_RATE)
            while self._played and self._played[0][0] + self._played[0][1].size < keep_from:
                self._played.popleft()

    def heard(self, count: int, at: float | None = None) -> npt.NDArray[np.float32]:
        """The echo in the ``count`` samples the microphone captured until ``at`` (by
        default now); zeros where nothing was played."""
        end = sample_index(time.monotonic() if at is None else at) - self.delay
        first = end - count - self._reflection
        sound = np.zeros(end - first, dtype=np.float32)
        with self._lock:
            for start, samples in self._played:
                lo, hi = max(start, first), min(start + samples.size, end)
                if lo < hi:
                    sound[lo - first : hi - first] = samples[lo - start : hi - start]
        direct = sound[self._reflection :]
        reflected = sound[:count]
        out: npt.NDArray[np.float32] = direct * self.gain + reflected * self._reflection_gain
        return out
