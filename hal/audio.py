"""Small audio helpers shared by backends: frame building and level measurement."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from hal.interfaces import AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")

SILENCE_DBFS = -120.0


def mono_frame(samples: npt.NDArray[np.int16], pts: int) -> av.AudioFrame:
    """A mono s16 48 kHz frame with ``pts`` counted in samples."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = AUDIO_SAMPLE_RATE
    frame.pts = pts
    frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
    return frame


class MonoConverter:
    """Turns frames of any format, layout and rate into mono s16 samples at 48 kHz."""

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def convert(self, frame: av.AudioFrame) -> npt.NDArray[np.int16]:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or shape != self._input:
            # a resampler is bound to its first input's format; sources may change theirs
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_SAMPLE_RATE)
            self._input = shape
        # pts of remote frames may jump; the resampler only needs the samples
        frame.pts = None
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not out:
            return np.zeros(0, dtype=np.int16)
        samples: npt.NDArray[np.int16] = np.concatenate(out).astype(np.int16, copy=False)
        return samples


def level_dbfs(samples: npt.NDArray[np.int16]) -> float:
    """RMS level relative to a full-scale sine-free square, in dB; silence is -120."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples.astype(np.float64)))))
    if rms < 1e-9:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(rms / 32768.0))
