"""Echo cancellation on the fake HAL's acoustic coupling. Prints one JSON object.

Real speech from espeak-ng (`apt install espeak-ng`): a far-end talker played on the
box's speaker, a near-end talker in the room. The microphone hears the near-end talker
plus the speaker through `hal.fake.room.AcousticCoupling` (40 ms, -6 dB, one reflection).
Everything goes through the daemon's own `EchoCanceller`, 20 ms at a time, as fast as it
runs (not paced), for noise suppression off (the default) and on.

- erle_db: echo return loss enhancement, far end talking alone (target >= 20 dB)
- stoi_*: short-time objective intelligibility of the near-end talker (0..1; above about
  0.75 is generally intelligible): alone, in double talk, and in double talk without any
  processing (which sends the echo back to the far end)
- cpu_s_per_audio_s: CPU seconds spent per second of audio
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pystoi import stoi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hal import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.fake.room import AcousticCoupling
from kiosk.call.echo import EchoCanceller
from tests.call.speech import FAR, NEAR, spoken

SETTLE_S = 3.0  # measured after the canceller has learned the room


def run(
    far: npt.NDArray[np.float64],
    near: npt.NDArray[np.float64],
    noise_suppression: bool,
    enabled: bool = True,
) -> tuple[npt.NDArray[np.int16], float]:
    """(what the box sends, CPU seconds) for the far end on the speaker, near in the room."""
    echo = EchoCanceller(noise_suppression)
    echo.enabled = enabled
    if enabled and not echo.load():
        raise SystemExit(f"aec: {echo.unavailable}")
    room = AcousticCoupling(40, -6)
    sent = []
    began = time.process_time()
    for start in range(0, far.size - AUDIO_FRAME_SAMPLES + 1, AUDIO_FRAME_SAMPLES):
        played = far[start : start + AUDIO_FRAME_SAMPLES].astype(np.int16)
        echo.played(played)
        room.played(played, at=start / AUDIO_SAMPLE_RATE)  # the room's clock, not the wall's
        captured_until = (start + AUDIO_FRAME_SAMPLES) / AUDIO_SAMPLE_RATE
        heard = near[start : start + AUDIO_FRAME_SAMPLES] + room.heard(
            AUDIO_FRAME_SAMPLES, at=captured_until
        )
        sent.append(echo.heard(np.clip(heard, -32768, 32767).astype(np.int16)))
    return np.concatenate(sent), time.process_time() - began


def power_db(x: npt.NDArray[np.generic]) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-9))


def measure(
    far: npt.NDArray[np.float64], near: npt.NDArray[np.float64], noise_suppression: bool
) -> dict[str, float]:
    silent = np.zeros_like(far)
    window = slice(int(SETTLE_S * AUDIO_SAMPLE_RATE), far.size // 960 * 960)
    echo_only, cpu = run(far, silent, noise_suppression)
    raw_echo, _ = run(far, silent, noise_suppression, enabled=False)
    alone, _ = run(silent, near, noise_suppression)
    both, _ = run(far, near, noise_suppression)
    unprocessed, _ = run(far, near, noise_suppression, enabled=False)
    seconds = far.size / AUDIO_SAMPLE_RATE
    return {
        "erle_db": round(power_db(raw_echo[window]) - power_db(echo_only[window]), 1),
        "stoi_near_alone": round(float(stoi(near[window], alone[window], AUDIO_SAMPLE_RATE)), 3),
        "stoi_double_talk": round(float(stoi(near[window], both[window], AUDIO_SAMPLE_RATE)), 3),
        "stoi_double_talk_unprocessed": round(
            float(stoi(near[window], unprocessed[window], AUDIO_SAMPLE_RATE)), 3
        ),
        "near_level_kept_db": round(power_db(both[window]) - power_db(near[window]), 1),
        "cpu_s_per_audio_s": round(cpu / seconds, 4),
    }


def main() -> dict[str, object]:
    far = spoken(FAR, "en-us").astype(np.float64)
    near = spoken(NEAR, "en-gb").astype(np.float64)
    length = min(far.size, near.size)
    far, near = far[:length], near[:length]
    return {
        "audio_s": round(length / AUDIO_SAMPLE_RATE, 1),
        "coupling": {"delay_ms": 40, "gain_db": -6},
        "noise_suppression_off": measure(far, near, False),
        "noise_suppression_on": measure(far, near, True),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
