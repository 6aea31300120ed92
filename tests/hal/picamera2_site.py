"""picamera2 0.3.x as Raspberry Pi OS bookworm ships it, and what its import pulls in, at
the versions built against numpy 1 (simplejpeg 1.6.6 is the one whose wheel predates
numpy 2, as the OS's package does), installed once per machine into a directory of its
own. `./dev test` runs this before the tests, which have no network:
``python -m tests.hal.picamera2_site``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES = (
    "picamera2==0.3.38",
    "simplejpeg==1.6.6",
    "pillow==9.4.0",
    "piexif==1.1.3",
    "pidng==4.0.9",
    "videodev2==0.0.4",
    "python-prctl==1.8.1",  # built from source: needs libcap-dev
)


def site() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clinic-kiosk"
    key = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    return cache / f"picamera2-site-{key}"


def install() -> Path:
    """The directory, installed if it is not yet (pip, no dependencies: numpy and av are
    the venv's); RuntimeError with pip's words when that fails."""
    target = site()
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="picamera2-site-", dir=target.parent))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
         str(partial), *PACKAGES],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        subprocess.run(["rm", "-rf", str(partial)], check=False)
        raise RuntimeError(f"cannot install {PACKAGES} (libcap-dev?): {done.stderr[-2000:]}")
    subprocess.run(["rm", "-rf", str(target)], check=True)
    partial.rename(target)
    (target / ".complete").touch()
    return target


if __name__ == "__main__":
    print(install())
