"""H.264 by capability: the Pi 4's hardware encoder when the machine has one, software
otherwise, and keyframes a receiver can always start at."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hal.v4l2 import hardware_h264_encoder
from kiosk.call import h264
from kiosk.call.encoder import SharedEncoder
from kiosk.call.h264 import nal_types, with_parameter_sets


def sysfs(tmp_path: Path, nodes: dict[str, str]) -> Path:
    for node, name in nodes.items():
        (tmp_path / node).mkdir(parents=True)
        (tmp_path / node / "name").write_text(name + "\n")
    return tmp_path


PI4 = {"video10": "bcm2835-codec-decode", "video11": "bcm2835-codec-encode",
       "video12": "bcm2835-codec-isp", "video0": "unicam"}  # fmt: skip
PI5 = {"video19": "rpi-hevc-dec", "video20": "pispbe", "video0": "rp1-cfe"}


def test_a_pi_4_has_a_hardware_encoder_and_a_pi_5_has_none(tmp_path: Path) -> None:
    assert hardware_h264_encoder(sysfs(tmp_path / "pi4", PI4)) == "/dev/video11"
    assert hardware_h264_encoder(sysfs(tmp_path / "pi5", PI5)) is None


def software_keyframe() -> bytes:
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = 64, 48, "yuv420p"
    context.time_base = Fraction(1, 90_000)
    context.options = {"x264-params": "repeat-headers=1", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(np.full((72, 64), 128, np.uint8), format="yuv420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in [*context.encode(frame), *context.encode(None)])


def decodes(data: bytes) -> bool:
    decoder = av.CodecContext.create("h264", "r")
    try:
        return bool(decoder.decode(av.Packet(data)) or decoder.decode(None))
    except av.FFmpegError:
        return False


def test_a_keyframe_without_its_parameter_sets_gets_them() -> None:
    keyframe = software_keyframe()
    assert nal_types(keyframe)[:2] == [7, 8]  # SPS, PPS, then the picture
    picture_at = keyframe.index(b"\x00\x00\x01", keyframe.index(b"\x00\x00\x01", 4) + 3)
    parameter_sets, picture = keyframe[: picture_at - 1], keyframe[picture_at - 1 :]
    assert 7 not in nal_types(picture)
    assert not decodes(picture)  # what a receiver that joined late would get
    repaired = with_parameter_sets(picture, parameter_sets)
    assert decodes(repaired)
    assert with_parameter_sets(keyframe, parameter_sets) is keyframe


def test_a_hardware_encoder_that_will_not_open_falls_back_to_software(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # this machine's sysfs says Pi 4, but /dev/video11 is not an encoder here
    monkeypatch.setattr(h264, "SYSFS_V4L", sysfs(tmp_path, PI4))
    monkeypatch.setattr(h264, "_hardware_failed", [])
    h264._detected.cache_clear()
    try:
        assert h264.h264_codec() == h264.HARDWARE
        encoder = SharedEncoder("H264", 320, 240, 15, 500_000)
        frame = av.VideoFrame.from_ndarray(np.zeros((360, 320), np.uint8), format="yuv420p")
        frame.pts, frame.time_base = 0, Fraction(1, 90_000)
        packets = encoder.encode(frame)
        assert packets
        assert packets[0].is_keyframe
        assert h264.h264_codec() == h264.SOFTWARE
        assert any("hardware H.264 encoder failed" in r.getMessage() for r in caplog.records)
    finally:
        h264._detected.cache_clear()
