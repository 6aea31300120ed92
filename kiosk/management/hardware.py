"""What the box says about itself: model, serial, CPU temperature."""

from __future__ import annotations

import platform
from pathlib import Path


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def model() -> str:
    return _read("/proc/device-tree/model") or f"{platform.system()} {platform.machine()}"


def serial() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.lower().startswith("serial"):
            return line.split(":", 1)[1].strip()
    return _read("/etc/machine-id") or "unknown"


def cpu_temp_c(zone: str = "/sys/class/thermal/thermal_zone0/temp") -> float | None:
    raw = _read(zone)
    try:
        return round(int(raw) / 1000, 1) if raw else None
    except ValueError:
        return None
