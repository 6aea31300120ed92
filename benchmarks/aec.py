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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from pystoi import stoi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hal import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.audio import MonoConverter
from hal.fake.room import AcousticCoupling
from kiosk.call.echo import EchoCanceller

FAR = (
    "The patient in room four is ready for the consultation. Please check the blood "
    "pressure readings before you start, and remember to update the notes afterwards."
)
NEAR = (
    "Good morning doctor, I have had a headache for three days now and the tablets did "
    "not help at all. Could you also look at my knee, it hurts on the stairs."
)
SETTLE_S = 3.0  # measured after the canceller has learned the room


def speech(text: str, voice: str, tmp: Path) -> npt.NDArray[np.float64]:
    wav = tmp / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
    converter = MonoConverter()
    with av.open(str(wav)) as container:
        frames = [converter.convert(f) for f in container.decode(audio=0)]
    return np.concatenate(frames).astype(np.float64)


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
        room.played(played)
        heard = near[start : start + AUDIO_FRAME_SAMPLES] + room.heard(AUDIO_FRAME_SAMPLES)
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
    with tempfile.TemporaryDirectory() as tmp:
        far = speech(FAR, "en-us", Path(tmp))
        near = speech(NEAR, "en-gb", Path(tmp))
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
