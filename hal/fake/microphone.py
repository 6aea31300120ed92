"""A synthetic microphone: a sine tone or a looped audio file, in paced 20 ms frames."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import av

from hal.audio import MonoConverter, mono_frame
from hal.errors import DeviceFailedError, DeviceMissingError
from hal.fake.faults import Faults
from hal.fake.room import AcousticCoupling
from hal.health import Health
from hal.interfaces import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module
from hal.pacing import Pacer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

TONE_AMPLITUDE = 0.3  # of full scale: about -13.5 dBFS RMS
BUFFERED_PERIODS = 4  # a late reader gets up to 80 ms at once, as from hal/pi/alsa.py's buffer


def parse_source(source: str) -> float | Path:
    """``tone:<Hz>`` -> the frequency, ``silence`` -> 0; anything else is the path of an
    audio file."""
    if source == "silence":
        return 0.0
    if source.startswith("tone:"):
        try:
            hz = float(source.removeprefix("tone:"))
        except ValueError:
            raise ValueError(f"bad tone {source!r}; expected tone:<Hz>, e.g. tone:440") from None
        if not 0 < hz < AUDIO_SAMPLE_RATE / 2:
            raise ValueError(f"tone frequency {hz:g} Hz is outside 0-{AUDIO_SAMPLE_RATE // 2} Hz")
        return hz
    return Path(source)


def _load_file(path: Path) -> npt.NDArray[np.int16]:
    if not path.is_file():
        raise DeviceMissingError(f"microphone source file {path} does not exist")
    converter = MonoConverter()
    chunks: list[npt.NDArray[np.int16]] = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                chunks.append(converter.convert(frame))
    except (av.FFmpegError, IndexError) as exc:
        raise DeviceFailedError(f"cannot read audio file {path}: {exc}") from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if samples.size == 0:
        raise DeviceFailedError(f"audio file {path} holds no samples")
    return samples


def _tone(hz: float) -> npt.NDArray[np.int16]:
    if hz == 0:
        return np.zeros(AUDIO_FRAME_SAMPLES, dtype=np.int16)
    # a whole number of periods per buffer, so the loop has no click
    seconds = 1.0 if hz.is_integer() else 10.0
    t = np.arange(int(AUDIO_SAMPLE_RATE * seconds)) / AUDIO_SAMPLE_RATE
    wave = TONE_AMPLITUDE * 32767 * np.sin(2 * math.pi * hz * t)
    samples: npt.NDArray[np.int16] = wave.astype(np.int16)
    return samples


class FakeMicrophone:
    def __init__(
        self,
        source: str = "tone:440",
        fault: str | None = None,
        room: AcousticCoupling | None = None,
    ) -> None:
        self._source = parse_source(source)
        self.room = room
        self.faults = Faults("microphone", fault)
        self._pacer = Pacer(AUDIO_FRAME_SAMPLES / AUDIO_SAMPLE_RATE, BUFFERED_PERIODS)
        self._samples: npt.NDArray[np.int16] | None = None
        self._started = False
        self._position = 0
        self._pts = 0

    @property
    def health(self) -> Health:
        return self.faults.health

    async def start(self) -> None:
        self.faults.check()
        if isinstance(self._source, Path):
            try:
                self._samples = _load_file(self._source)
            except (DeviceMissingError, DeviceFailedError) as exc:
                self.faults.raise_(exc)
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def read(self) -> av.AudioFrame:
        self.faults.check()
        if not self._started:
            raise DeviceFailedError("microphone read before start")
        at = await self._pacer.wait()
        self.faults.check()
        if not self._started:  # stopped while we slept
            raise DeviceFailedError("microphone stopped")
        if self._samples is None:  # a tone, made at first read: an idle box needs no numpy
            assert isinstance(self._source, float)
            self._samples = _tone(self._source)
        samples = self._samples
        idx = (self._position + np.arange(AUDIO_FRAME_SAMPLES)) % samples.size
        self._position = int((self._position + AUDIO_FRAME_SAMPLES) % samples.size)
        near = samples[idx]
        if self.room is not None:  # what the speaker played, as the room carried it
            near = np.clip(near + self.room.heard(near.size, at), -32768, 32767).astype(np.int16)
        frame = mono_frame(near, self._pts)
        self._pts += AUDIO_FRAME_SAMPLES
        return frame
