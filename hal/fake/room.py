"""A fake room's acoustics: the fake microphone hears what the fake speaker played,
later and quieter, as a box's microphone hears its own open speaker."""

from __future__ import annotations

import threading
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
MAX_BACKLOG_S = 0.5  # played but not yet heard (the microphone was not being read)


class AcousticCoupling:
    """A delay line from speaker to microphone: direct path ``delay_ms`` later at
    ``gain_db``, plus one reflection."""

    def __init__(self, delay_ms: float, gain_db: float) -> None:
        self.delay = int(delay_ms / 1000 * AUDIO_SAMPLE_RATE)
        self.gain = 10 ** (gain_db / 20)
        self._reflection = int(REFLECTION_DELAY_S * AUDIO_SAMPLE_RATE)
        self._reflection_gain = self.gain * 10 ** (REFLECTION_GAIN_DB / 20)
        self._line: deque[npt.NDArray[np.float32]] = deque()
        self._pending = 0
        self._tail = np.zeros(0, dtype=np.float32)  # the reflection's overhang
        self._lock = threading.Lock()

    def played(self, samples: npt.NDArray[np.int16]) -> None:
        direct = samples.astype(np.float32) * self.gain
        room = np.zeros(direct.size + self._reflection, dtype=np.float32)
        room[: direct.size] += direct
        room[self._reflection :] += samples.astype(np.float32) * self._reflection_gain
        room[: self._tail.size] += self._tail
        out, self._tail = room[: direct.size], room[direct.size :]
        with self._lock:
            if not self._line:  # silence before: the sound takes `delay` to arrive
                self._line.append(np.zeros(self.delay, dtype=np.float32))
                self._pending += self.delay
            self._line.append(out)
            self._pending += out.size
            while self._pending > self.delay + MAX_BACKLOG_S * AUDIO_SAMPLE_RATE:
                self._pending -= self._line.popleft().size

    def heard(self, count: int) -> npt.NDArray[np.float32]:
        """The next ``count`` samples of echo (zeros where nothing was played)."""
        out = np.zeros(count, dtype=np.float32)
        filled = 0
        with self._lock:
            while filled < count and self._line:
                chunk = self._line[0]
                take = min(count - filled, chunk.size)
                out[filled : filled + take] = chunk[:take]
                filled += take
                if take == chunk.size:
                    self._line.popleft()
                else:
                    self._line[0] = chunk[take:]
                self._pending -= take
        return out
