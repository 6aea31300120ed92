"""The waiting-area chime: two soft notes, made once, played through the box's speaker."""

from __future__ import annotations

import functools
from fractions import Fraction

import av

from hal import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module

np = lazy_module("numpy")

NOTES = ((659.25, 0.18), (880.0, 0.42))  # E5 then A5, seconds each
PEAK_DBFS = -18.0  # soft: heard in a quiet room, not startling
FRAME_S = AUDIO_FRAME_SAMPLES / AUDIO_SAMPLE_RATE


@functools.cache
def chime_frames() -> tuple[av.AudioFrame, ...]:
    """20 ms mono s16 frames at 48 kHz; each note rings out (fast attack, slow decay)."""
    parts = []
    for frequency, seconds in NOTES:
        t = np.arange(int(seconds * AUDIO_SAMPLE_RATE)) / AUDIO_SAMPLE_RATE
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / (seconds / 3))
        parts.append(np.sin(2 * np.pi * frequency * t) * envelope)
    signal = np.concatenate(parts) * (10 ** (PEAK_DBFS / 20)) * 32767
    padded = np.zeros(-(-len(signal) // AUDIO_FRAME_SAMPLES) * AUDIO_FRAME_SAMPLES)
    padded[: len(signal)] = signal
    samples = padded.astype(np.int16).reshape(-1, AUDIO_FRAME_SAMPLES)
    frames = []
    for index, block in enumerate(samples):
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
        frames.append(frame)
    return tuple(frames)
