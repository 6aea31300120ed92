"""The pi backend's parts on this machine's stand-ins: ALSA file PCMs, video files and a
lavfi picture for the camera, a stand-in Picamera2, mock GPIO pins."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import hal
from hal import AUDIO_FRAME_SAMPLES, HealthState, v4l2
from hal.audio import mono_frame
from hal.errors import DeviceMissingError
from hal.pi import AlsaMicrophone, AlsaSpeaker, AvCamera, PiCamera
from hal.v4l2 import find_video_device
from kiosk.call.h264 import nal_types
from tests.hal.conftest import AlsaFiles, backend_config


async def test_the_microphone_gives_the_card_s_samples_in_order(alsa: AlsaFiles) -> None:
    mic = AlsaMicrophone("kiosk_mic")
    await mic.start()
    try:
        frames = [await mic.read() for _ in range(20)]
    finally:
        await mic.stop()
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert np.array_equal(samples, alsa.input_samples()[: 20 * AUDIO_FRAME_SAMPLES])
    assert [f.pts for f in frames] == [i * AUDIO_FRAME_SAMPLES for i in range(20)]
    assert mic.xruns == 0


async def test_the_speaker_plays_every_frame_in_order_as_mono(alsa: AlsaFiles) -> None:
    speaker = AlsaSpeaker("kiosk_speaker")
    await speaker.start()
    for i in range(5):
        await speaker.play(mono_frame(np.full(AUDIO_FRAME_SAMPLES, 100 * i, np.int16), 0))
    # what aiortc's Opus decoder gives: stereo, here left 1000 and right 3000
    stereo = av.AudioFrame.from_ndarray(
        np.tile(np.array([1000, 3000], np.int16), AUDIO_FRAME_SAMPLES).reshape(1, -1),
        format="s16", layout="stereo",
    )  # fmt: skip
    stereo.sample_rate = 48_000
    await speaker.play(stereo)
    await speaker.stop()  # plays what is queued, then closes
    played = alsa.output_samples()
    expected = np.repeat(np.array([0, 100, 200, 300, 400], np.int16), AUDIO_FRAME_SAMPLES)
    assert np.array_equal(played[: expected.size], expected)
    assert abs(int(np.median(played[expected.size :])) - 2000) <= 2  # the two sides, mixed


async def test_a_sound_card_that_is_not_there_is_missing_and_the_box_runs_on(
    alsa: AlsaFiles, mock_pins: None
) -> None:
    config = backend_config("pi", audio_input_device="no_such_card")
    async with hal.build("pi", config) as opened:
        health = opened.health()
        assert health["microphone"].state is HealthState.MISSING
        assert "no_such_card" in (health["microphone"].reason or "")
        assert health["speaker"].state is HealthState.OK
        assert (await opened.camera.read()).width == 320
        with pytest.raises(DeviceMissingError, match="no_such_card"):
            await opened.microphone.read()


def test_a_usb_camera_is_found_by_its_name(tmp_path: Path) -> None:
    for node, name, index in [
        ("video0", "bcm2835-isp", "0"),
        ("video2", "HD Pro Webcam C920", "0"),
        ("video3", "HD Pro Webcam C920", "1"),  # the metadata node of the same camera
    ]:
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(index + "\n")
    assert find_video_device("HD Pro Webcam C920", tmp_path) == "/dev/video2"
    with pytest.raises(DeviceMissingError, match=r"cameras: \['HD Pro Webcam C920', 'bcm"):
        find_video_device("Logitech BRIO", tmp_path)


def write_video(path: Path, frames: int, size: tuple[int, int] = (640, 360)) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            pixels = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode(None))


async def test_a_video_file_camera_is_scaled_paced_and_looped(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, frames=10)
    camera = AvCamera(str(video), 320, 240, 30)
    await camera.start()
    try:
        frames = [await camera.read() for _ in range(25)]  # past the end, twice
    finally:
        await camera.stop()
    assert {(f.width, f.height, f.format.name) for f in frames} == {(320, 240, "yuv420p")}
    assert all(f.time_base == Fraction(1, 90_000) for f in frames)
    assert (frames[-1].pts - frames[0].pts) / 90_000 >= 24 / 30 * 0.9


async def test_a_camera_plugged_in_later_is_picked_up(
    tmp_path: Path, alsa: AlsaFiles, mock_pins: None
) -> None:
    video = tmp_path / "later.mp4"
    config = backend_config("pi", camera=str(video))
    async with hal.build("pi", config) as opened:
        assert opened.camera.health.state is HealthState.MISSING
        keeper = asyncio.create_task(opened.keep_parts_open(first_retry_s=0.05))
        try:
            write_video(video, frames=5)
            async with asyncio.timeout(10):
                while opened.camera.health.state is not HealthState.OK:
                    await asyncio.sleep(0.05)
        finally:
            keeper.cancel()
        assert (await opened.camera.read()).width == 320


class StandInPicamera2:
    """What PiCamera uses of picamera2.Picamera2."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.config: dict[str, Any] = {}
        self.started = self.closed = False
        self.captures = 0
        self._fail_after = fail_after

    def create_video_configuration(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, stream: str) -> np.ndarray[Any, Any]:
        assert stream == "main"
        self.captures += 1
        if self._fail_after is not None and self.captures > self._fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        width, height = self.config["main"]["size"]
        pixels = np.zeros((height, width + 32, 4), np.uint8)  # stride padding, XBGR
        pixels[:, :, 2] = 255  # red, in B G R order
        return pixels

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    # the hardware encoder: libx264 stands in for the VideoCore's, on picamera2's thread
    def start_encoder(self, encoder: StandInEncoder, output: Any) -> None:
        assert self.started
        encoder.running = True
        encoder.thread = threading.Thread(target=encoder.run, args=(self.config, output))
        encoder.thread.start()

    def stop_encoder(self, encoder: StandInEncoder) -> None:
        encoder.running = False
        if encoder.thread is not None:
            encoder.thread.join()


class StandInEncoder:
    """What PiCameraH264 hands picamera2: made by the ``make_encoder`` seam, its device
    controlled through the ``set_control`` seam."""

    def __init__(self, bitrate: int, frames: int = 1000) -> None:
        self.bitrate = bitrate
        self.vd = open(os.devnull, "rb")  # noqa: SIM115 (closed in run)
        self.controls: list[tuple[int, int]] = []
        self.running = False
        self.thread: threading.Thread | None = None
        self._frames = frames

    def set_control(self, fd: int, control: int, value: int) -> None:
        assert fd == self.vd.fileno()
        self.controls.append((control, value))

    def run(self, config: dict[str, Any], output: Any) -> None:
        width, height = config["main"]["size"]
        context = av.CodecContext.create("libx264", "w")
        context.width, context.height, context.pix_fmt = width, height, "yuv420p"
        context.time_base = Fraction(1, 30)
        context.options = {"tune": "zerolatency", "x264-params": "repeat-headers=1:keyint=3000"}
        output.start()
        try:
            for number in range(self._frames):
                if not self.running:
                    break
                forced = (v4l2.FORCE_KEY_FRAME, 1) in self.controls
                self.controls = [c for c in self.controls if c[0] != v4l2.FORCE_KEY_FRAME]
                frame = av.VideoFrame.from_ndarray(
                    np.full((height * 3 // 2, width), number % 200, np.uint8), format="yuv420p"
                )
                frame.pts = number
                frame.pict_type = av.video.frame.PictureType.I if forced else 0
                for packet in context.encode(frame):
                    output.outputframe(bytes(packet), packet.is_keyframe, number * 33_333)
                time.sleep(1 / 30)
        finally:
            output.stop()
            self.vd.close()


async def test_the_pi_camera_gives_frames_through_the_picamera2_seam() -> None:
    made: list[StandInPicamera2] = []

    def factory() -> StandInPicamera2:
        made.append(StandInPicamera2(fail_after=3 if not made else None))
        return made[-1]

    camera = PiCamera(320, 240, 30, factory)
    await camera.start()
    assert made[0].config["main"] == {"size": (320, 240), "format": "RGB888"}
    assert made[0].config["controls"] == {"FrameRate": 30.0}
    frames = [await camera.read() for _ in range(3)]
    rgb = frames[0].to_ndarray(format="rgb24")
    assert rgb.shape == (240, 320, 3)
    assert rgb[..., 0].mean() > 200
    assert rgb[..., 2].mean() < 60
    # the camera stops answering: missing, then opened again on the next read
    with pytest.raises(DeviceMissingError, match="timed out"):
        await camera.read()
    assert camera.health.state is HealthState.MISSING
    assert made[0].closed
    assert (await camera.read()).width == 320
    assert camera.health.state is HealthState.OK
    await camera.stop()
    assert made[1].closed


PI4_SYSFS = {"video10": "bcm2835-codec-decode", "video11": "bcm2835-codec-encode"}


def sysfs_of(root: Path, nodes: dict[str, str]) -> Path:
    for node, name in nodes.items():
        (root / node).mkdir(parents=True)
        (root / node / "name").write_text(name + "\n")
    return root


async def test_a_pi_4_s_camera_gives_hardware_h264_and_a_pi_5_s_gives_none(
    tmp_path: Path,
) -> None:
    made: list[StandInEncoder] = []

    def make_encoder(bitrate: int, frames: int = 1000) -> StandInEncoder:
        made.append(StandInEncoder(bitrate, frames))
        return made[-1]

    def set_control(fd: int, control: int, value: int) -> None:
        made[-1].set_control(fd, control, value)

    pi5 = PiCamera(
        320, 240, 30, StandInPicamera2, sysfs_of(tmp_path / "pi5", {"video0": "rp1-cfe"})
    )
    assert pi5.h264() is None  # the engine encodes in software
    pi4 = PiCamera(
        320, 240, 30, StandInPicamera2, sysfs_of(tmp_path / "pi4", PI4_SYSFS),
        make_encoder, set_control,
    )  # fmt: skip
    stream = pi4.h264()
    assert stream is not None
    await stream.start(400_000)
    try:
        assert made[0].bitrate == 400_000
        first = await stream.read()
        assert first.is_keyframe
        assert {7, 8, 5} <= set(nal_types(bytes(first)))  # SPS and PPS in front
        assert not (await stream.read()).is_keyframe
        stream.request_keyframe()
        keyframe = None
        for _ in range(5):
            packet = await stream.read()
            if packet.is_keyframe:
                keyframe = packet
                break
        assert keyframe is not None
        assert {7, 8, 5} <= set(nal_types(bytes(keyframe)))
        stream.set_bitrate(250_000)
        assert (v4l2.BITRATE, 250_000) in made[0].controls
        # the box's own screen: the camera's frames, fetched while its encoder records
        picture = await stream.picture()
        assert picture is not None
        assert made[0].running
        assert (picture.width, picture.height) == (320, 240)
        assert picture.to_ndarray(format="rgb24")[..., 0].mean() > 200  # the stand-in's red
    finally:
        await stream.stop()
    assert not made[0].running
    await pi4.stop()


async def test_a_pi_camera_whose_encoder_stops_is_missing(tmp_path: Path) -> None:
    camera = PiCamera(
        320, 240, 30, StandInPicamera2, sysfs_of(tmp_path, PI4_SYSFS),
        lambda bitrate: StandInEncoder(bitrate, frames=3), lambda fd, control, value: None,
    )  # fmt: skip
    stream = camera.h264()
    assert stream is not None
    stream._silent_s = 0.5
    await stream.start(400_000)
    try:
        for _ in range(3):
            await stream.read()
        with pytest.raises(DeviceMissingError, match=r"no H\.264"):
            await stream.read()
    finally:
        await stream.stop()
        await camera.stop()
