"""The image, booted on an emulated aarch64 machine: qemu-system-aarch64 (`-M virt`,
Cortex-A72 as a Pi 4 has, TCG) starts Debian's arm64 kernel and initrd on a disk made from
a bookworm arm64 root after the image stage (`image/stage-kiosk`) has installed into it.
Its real systemd runs the kiosk unit with the fake HAL, and the check that the x86 nspawn
boot runs (`tests/nspawn/check.sh`) looks at it from inside: READY=1, the sandbox's
system-call filter on aarch64 around what a call imports, the watchdog restarting a frozen
loop, a full and a read-only state directory. Its findings come back on the disk.

The root and the aarch64 wheels come from `tests/arm64/build.sh` (run by `./dev test`);
the test itself is offline. Minutes: the whole machine is emulated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nspawn.box import (
    add_check,
    assert_checked,
    built_cache,
    copy_root,
    in_root,
    install_stage,
    run,
)

CACHE_ENV = "KIOSK_TEST_ARM64_CACHE"
BOOT_S = 1200  # what the boot and the check may take, at most, emulated on 2 shared cores

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BOOT_S + 900)]


@pytest.fixture(scope="module")
def cache() -> Path:
    return built_cache(
        CACHE_ENV,
        ["root/usr/lib/systemd/systemd", "wheels"],
        {
            "qemu-system-aarch64": "qemu-system-arm",
            "mkfs.ext4": "e2fsprogs",
            "debugfs": "e2fsprogs",
        },
        "tests/arm64/build.sh",
    )


@pytest.fixture(scope="module")
def root(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The root with the image stage installed (under qemu-user: the venv from the aarch64
    wheels, pyalsaaudio and systemd-python compiled), as on a fresh image: without the
    user-space tests' venv."""
    tmp = tmp_path_factory.mktemp("arm64-box")
    root = tmp / "root"
    copy_root(cache / "root", root)
    shutil.rmtree(root / "opt/kiosk")
    install_stage(root, cache / "wheels", tmp)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def kernel_and_initrd(root: Path) -> tuple[Path, Path]:
    kernels = sorted((root / "boot").glob("vmlinuz-*-arm64"))
    assert kernels, "no arm64 kernel in the boot root"
    release = kernels[-1].name.removeprefix("vmlinuz-")
    initrd = root / f"boot/initrd.img-{release}"
    assert initrd.exists(), f"no initrd for {release}"
    return kernels[-1], initrd


def make_disk(root: Path, disk: Path) -> None:
    """An ext4 image of the root, owners and modes kept (mkfs.ext4 -d)."""
    used = int(run("du", "-sb", str(root)).stdout.split()[0])
    with disk.open("wb") as image:
        image.truncate(used + used // 2 + (1 << 30))
    made = run("mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(disk))
    assert made.returncode == 0, made.stderr


def boot(kernel: Path, initrd: Path, disk: Path, console: Path) -> subprocess.CompletedProcess[str]:
    """Boot the disk until the check powers it off (-no-reboot: qemu then exits)."""
    return run(
        "timeout", "--kill-after=10", str(BOOT_S),
        "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048",
        "-accel", "tcg,thread=multi", "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "root=/dev/vda rw console=ttyAMA0 panic=-1",
        "-drive", f"file={disk},format=raw,if=virtio", "-nic", "none",
        "-display", "none", "-monitor", "none", "-serial", f"file:{console}", "-no-reboot",
        timeout=BOOT_S + 60,
    )  # fmt: skip


def test_the_image_boots_on_emulated_aarch64_and_its_unit_holds(root: Path, tmp_path: Path) -> None:
    assert in_root(root, "systemctl", "is-enabled", "kiosk.service").stdout.strip() == "enabled"
    add_check(root, watchdog_s=10, slowness=10)
    (root / "results").mkdir()
    kernel, initrd = kernel_and_initrd(root)
    disk = tmp_path / "disk.img"
    make_disk(root, disk)
    console = tmp_path / "console.log"
    booted = boot(kernel, initrd, disk, console)
    output = console.read_text(errors="replace") if console.exists() else ""
    assert booted.returncode == 0, f"qemu: {booted.returncode} {booted.stderr}\n{output[-4000:]}"
    results = tmp_path / "results"
    results.mkdir()
    dumped = run("debugfs", "-R", f"rdump /results {results}", str(disk))
    assert dumped.returncode == 0, dumped.stderr
    disk.unlink()
    assert_checked(results / "results", output)
    assert (results / "results/machine.txt").read_text().split() == ["aarch64"]
