"""V4L2 devices by name (``/sys/class/video4linux``) and the controls of an open one."""

from __future__ import annotations

import fcntl
import struct
from pathlib import Path

from hal.errors import DeviceMissingError

SYSFS_V4L = Path("/sys/class/video4linux")
# the Pi 4's H.264 encoder, a memory-to-memory device (picamera2 and FFmpeg's
# h264_v4l2m2m both drive it); a Pi 5 has none
HARDWARE_H264_ENCODERS = frozenset({"bcm2835-codec-encode"})

# linux/videodev2.h and v4l2-controls.h
_VIDIOC_S_CTRL = 0xC008561C  # _IOWR('V', 28, struct v4l2_control { __u32 id; __s32 value; })
_CODEC_BASE = 0x00990900  # V4L2_CTRL_CLASS_CODEC | 0x900
BITRATE = _CODEC_BASE + 207  # V4L2_CID_MPEG_VIDEO_BITRATE
FORCE_KEY_FRAME = _CODEC_BASE + 229  # V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME


def _nodes(sysfs: Path) -> list[tuple[Path, str]]:
    def number(node: Path) -> int:
        return int(node.name[5:] or 0)

    return [
        (node, (node / "name").read_text().strip() if (node / "name").exists() else "")
        for node in sorted(sysfs.glob("video*"), key=number)
    ]


def find_video_device(name: str, sysfs: Path = SYSFS_V4L) -> str:
    """``/dev/videoN`` of the capture node whose V4L2 name is ``name``."""
    for node, label in _nodes(sysfs):
        index = (node / "index").read_text().strip() if (node / "index").exists() else "0"
        if label == name and index == "0":  # index 0: a camera's capture node, not metadata
            return f"/dev/{node.name}"
    found = sorted({label for _, label in _nodes(sysfs)})
    raise DeviceMissingError(f"no camera named {name!r}; cameras: {found or 'none'}")


def usb_camera(sysfs: Path = SYSFS_V4L) -> str | None:
    """``/dev/videoN`` of the first USB (UVC) camera's capture node, if one is plugged in.
    A Pi's other nodes (codecs, ISP, the CSI receiver) are not cameras to open with V4L2."""
    for node, _ in _nodes(sysfs):
        driver = node / "device" / "driver"
        index = (node / "index").read_text().strip() if (node / "index").exists() else "0"
        if driver.exists() and driver.resolve().name == "uvcvideo" and index == "0":
            return f"/dev/{node.name}"
    return None


def hardware_h264_encoder(sysfs: Path = SYSFS_V4L) -> str | None:
    """``/dev/videoN`` of a hardware H.264 encoder, if this machine has one."""
    for node, label in _nodes(sysfs):
        if label in HARDWARE_H264_ENCODERS:
            return f"/dev/{node.name}"
    return None


def set_control(fd: int, control: int, value: int) -> None:
    """VIDIOC_S_CTRL on an open V4L2 device; OSError if the device refuses."""
    fcntl.ioctl(fd, _VIDIOC_S_CTRL, struct.pack("Ii", control, value))
