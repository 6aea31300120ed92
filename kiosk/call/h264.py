"""Which H.264 encoder a box has, and making its keyframes self-contained.

A Raspberry Pi 4 has a hardware H.264 encoder (`bcm2835-codec-encode`, the V4L2
memory-to-memory device picamera2 also encodes with); FFmpeg drives it as
``h264_v4l2m2m``. A Pi 5 has none: software (libx264). Chosen by capability at the first
H.264 call, and logged.
"""

from __future__ import annotations

import logging
from functools import cache

import av

from hal import v4l2

log = logging.getLogger(__name__)

SYSFS_V4L = v4l2.SYSFS_V4L
HARDWARE = "h264_v4l2m2m"
SOFTWARE = "libx264"
_START_CODE = b"\x00\x00\x01"
_SPS = 7


_hardware_failed: list[str] = []


@cache
def _detected() -> str:
    device = v4l2.hardware_h264_encoder(SYSFS_V4L)
    if device is not None and HARDWARE in av.codecs_available:
        log.info("H.264: the hardware encoder at %s (%s)", device, HARDWARE)
        return HARDWARE
    log.info("H.264: software (%s); no hardware encoder on this machine", SOFTWARE)
    return SOFTWARE


def h264_codec() -> str:
    """The FFmpeg encoder for H.264 on this machine."""
    return SOFTWARE if _hardware_failed else _detected()


def hardware_failed(reason: str) -> None:
    """The hardware encoder would not open: software from now on (until restart)."""
    log.error("hardware H.264 encoder failed (%s); encoding in software", reason)
    _hardware_failed.append(reason)


def nal_types(data: bytes) -> list[int]:
    """The NAL unit types of an Annex B access unit, in order."""
    types = []
    start = data.find(_START_CODE)
    while start != -1 and start + 3 < len(data):
        types.append(data[start + 3] & 0x1F)
        start = data.find(_START_CODE, start + 3)
    return types


def with_parameter_sets(data: bytes, parameter_sets: bytes) -> bytes:
    """A keyframe a receiver can start at: SPS and PPS in front unless already there.

    The V4L2 encoder gives SPS/PPS once (as extradata); a receiver that joins later, or
    lost them, decodes nothing until a keyframe brings them again.
    """
    if not parameter_sets or _SPS in nal_types(data):
        return data
    return parameter_sets + data
