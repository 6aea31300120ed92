"""A speaker that listens: it records the level of everything played to it."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av

from hal.audio import MonoConverter, level_dbfs
from hal.errors import DeviceFailedError
from hal.fake.faults import Faults
from hal.fake.room import AcousticCoupling
from hal.health import Health
from hal.interfaces import AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")


@dataclass(frozen=True, slots=True)
class Level:
    time: float  # time.monotonic() when played
    rms_dbfs: float
    samples: int


class FakeSpeaker:
    """Consumes frames at once and keeps a bounded level history and the last samples."""

    def __init__(
        self,
        fault: str | None = None,
        history: int = 3000,
        keep_seconds: float = 5.0,
        room: AcousticCoupling | None = None,
    ) -> None:
        self.faults = Faults("speaker", fault)
        self.room = room
        self.levels: deque[Level] = deque(maxlen=history)
        self._recent: deque[npt.NDArray[np.int16]] = deque()
        self._recent_samples = 0
        self._keep = int(keep_seconds * AUDIO_SAMPLE_RATE)
        self._converter: MonoConverter | None = None

    @property
    def health(self) -> Health:
        return self.faults.health

    async def start(self) -> None:
        self.faults.check()
        self._converter = MonoConverter()

    async def stop(self) -> None:
        self._converter = None

    async def play(self, frame: av.AudioFrame) -> None:
        if self._converter is None:
            raise DeviceFailedError("speaker used before start")
        self.faults.check()
        samples = self._converter.convert(frame)
        if self.room is not None:
            self.room.played(samples)
        self.levels.append(Level(time.monotonic(), level_dbfs(samples), samples.size))
        self._recent.append(samples)
        self._recent_samples += samples.size
        while self._recent_samples - self._recent[0].size >= self._keep:
            self._recent_samples -= self._recent.popleft().size

    def recent(self, seconds: float) -> npt.NDArray[np.int16]:
        """The last ``seconds`` of mono 48 kHz samples played (at most ``keep_seconds``)."""
        if not self._recent:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._recent)[-int(seconds * AUDIO_SAMPLE_RATE) :]
