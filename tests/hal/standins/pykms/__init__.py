"""A stand-in for kms++'s Python binding (Raspberry Pi OS's python3-kms++, a C++
extension), which picamera2's DRM preview imports: its pixel format names exist, and no
display is ever opened (the box draws no preview)."""

from __future__ import annotations

import enum


class PixelFormat(enum.Enum):
    RGB888 = "RG24"
    BGR888 = "BG24"
    XRGB8888 = "XR24"
    XBGR8888 = "XB24"
    YUYV = "YUYV"
    YVYU = "YVYU"
    UYVY = "UYVY"
    VYUY = "VYUY"
    YUV420 = "YU12"
    YVU420 = "YV12"
    NV12 = "NV12"
    NV21 = "NV21"
    RGB565 = "RG16"
