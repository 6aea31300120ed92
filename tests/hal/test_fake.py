"""The fake backend's own promises: faults, what the mic says, what the speaker heard."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hal import (
    AUDIO_SAMPLE_RATE,
    DeviceFailedError,
    DeviceMissingError,
    HealthState,
    framestamp,
)
from hal.audio import level_dbfs
from hal.fake import FakeCamera, FakeMicrophone, FakeSpeaker


def dominant_hz(samples: npt.NDArray[np.int16], rate: int = AUDIO_SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


async def test_camera_unplug_replug_and_error() -> None:
    camera = FakeCamera(320, 240, 30)
    await camera.start()
    await camera.read()
    camera.faults.unplug()
    assert camera.health.state is HealthState.MISSING
    with pytest.raises(DeviceMissingError, match="unplugged"):
        await camera.read()
    camera.faults.replug()
    assert camera.health.state is HealthState.OK
    await camera.read()
    camera.faults.fail("sensor timeout")
    with pytest.raises(DeviceFailedError, match="sensor timeout"):
        await camera.read()
    assert camera.health.reason == "camera: sensor timeout"


async def test_camera_frames_carry_number_and_capture_time() -> None:
    camera = FakeCamera(320, 240, 30)
    await camera.start()
    stamps = []
    for _ in range(3):
        frame = await camera.read()
        stamps.append(framestamp.read(frame.to_ndarray()[:240]))
    now_ms = time.time() * 1000
    assert [s.frame_number for s in stamps if s] == [0, 1, 2]
    assert all(s and now_ms - 1000 < s.capture_time_ms <= now_ms for s in stamps)


async def test_camera_that_starts_missing_refuses_to_start() -> None:
    camera = FakeCamera(320, 240, 30, fault="missing")
    with pytest.raises(DeviceMissingError):
        await camera.start()


async def test_microphone_tone_has_its_pitch_and_level() -> None:
    mic = FakeMicrophone("tone:1000")
    await mic.start()
    samples = np.concatenate([(await mic.read()).to_ndarray().reshape(-1) for _ in range(10)])
    assert dominant_hz(samples) == pytest.approx(1000, abs=10)
    assert level_dbfs(samples) == pytest.approx(-13.5, abs=0.5)


def write_wav(path: Path, hz: float, rate: int, channels: int, seconds: float) -> None:
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(tone, channels).tobytes())


async def test_microphone_plays_any_wav_file_as_48k_mono(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    write_wav(path, hz=600, rate=16_000, channels=2, seconds=0.5)
    mic = FakeMicrophone(str(path))
    await mic.start()
    # 40 frames (0.8 s) also proves the file loops
    samples = np.concatenate([(await mic.read()).to_ndarray().reshape(-1) for _ in range(40)])
    assert dominant_hz(samples) == pytest.approx(600, abs=10)


async def test_microphone_with_a_missing_file_reports_missing(tmp_path: Path) -> None:
    mic = FakeMicrophone(str(tmp_path / "nope.wav"))
    with pytest.raises(DeviceMissingError, match=r"nope\.wav does not exist"):
        await mic.start()
    assert mic.health.state is HealthState.MISSING


async def test_microphone_with_a_broken_file_reports_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    mic = FakeMicrophone(str(path))
    with pytest.raises(DeviceFailedError):
        await mic.start()
    assert mic.health.state is HealthState.ERROR


def test_microphone_rejects_a_bad_tone() -> None:
    with pytest.raises(ValueError, match="tone:<Hz>"):
        FakeMicrophone("tone:loud")


async def test_speaker_records_what_it_heard() -> None:
    mic, speaker = FakeMicrophone("tone:440"), FakeSpeaker()
    await mic.start()
    await speaker.start()
    for _ in range(25):
        await speaker.play(await mic.read())
    assert len(speaker.levels) == 25
    assert all(level.rms_dbfs == pytest.approx(-13.5, abs=0.5) for level in speaker.levels)
    heard = speaker.recent(0.5)
    assert heard.size == AUDIO_SAMPLE_RATE // 2
    assert dominant_hz(heard) == pytest.approx(440, abs=5)
    speaker.faults.unplug()
    with pytest.raises(DeviceMissingError):
        await speaker.play(await mic.read())
