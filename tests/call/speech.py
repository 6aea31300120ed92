"""Speech-like test signals: voiced harmonics with a wandering pitch, breath noise and a
syllable rhythm. Deterministic, so echo measurements repeat."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hal import AUDIO_SAMPLE_RATE


def speech_like(seconds: float, pitch_hz: float, seed: int) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * AUDIO_SAMPLE_RATE)) / AUDIO_SAMPLE_RATE
    pitch = pitch_hz * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / AUDIO_SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.3 * rng.standard_normal(t.size)
    syllables = np.clip(np.sin(2 * np.pi * 3.3 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    wave = voice * syllables
    return (wave / np.max(np.abs(wave)) * 0.5 * 32767).astype(np.int16)


def power_db(samples: npt.NDArray[np.int16]) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9))
