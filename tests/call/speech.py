"""Test speech: spoken sentences (espeak-ng, `apt install espeak-ng`), and speech-like
signals (voiced harmonics with a wandering pitch, breath noise and a syllable rhythm).
Both deterministic, so echo measurements repeat.

Intelligibility is measured on the spoken sentences only: on the synthetic signal, two
continuous talkers at once, AEC3 suppresses the near one to anywhere between STOI 0.05
and 0.75 depending on the echo's delay to a millisecond; on espeak's speech it kept
0.73-0.77 at every delay from 40 to 120 ms (a one-off offline sweep, not kept).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from hal import AUDIO_SAMPLE_RATE
from hal.audio import MonoConverter

FAR = (
    "The patient in room four is ready for the consultation. Please check the blood "
    "pressure readings before you start, and remember to update the notes afterwards."
)
NEAR = (
    "Good morning doctor, I have had a headache for three days now and the tablets did "
    "not help at all. Could you also look at my knee, it hurts on the stairs."
)


def spoken(text: str, voice: str) -> npt.NDArray[np.int16]:
    """``text`` read by espeak-ng's ``voice`` (e.g. ``en-us``), mono 48 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
        converter = MonoConverter()
        with av.open(str(wav)) as container:
            frames = [converter.convert(f) for f in container.decode(audio=0)]
    return np.concatenate(frames)


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
