"""The box as an appliance: the pi-gen stage installs into a Debian root, and that root,
booted by a real systemd in systemd-nspawn, runs the kiosk unit with the fake HAL.

The root and the wheels come from `tests/nspawn/build.sh` (run by `./dev test`, which
needs the network once); the tests themselves are offline.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.version import SOFTWARE_VERSION
from tests.nspawn.box import (
    add_check,
    assert_checked,
    built_cache,
    copy_root,
    in_root,
    install_stage,
    run,
)

CACHE_ENV = "KIOSK_TEST_NSPAWN_CACHE"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def cache() -> Path:
    return built_cache(
        CACHE_ENV,
        ["root/usr/lib/systemd/systemd", "wheels"],
        {"systemd-nspawn": "systemd-container"},
        "tests/nspawn/build.sh",
    )


@pytest.fixture(scope="module")
def root(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("box")
    root = tmp / "root"
    copy_root(cache / "root", root)
    install_stage(root, cache / "wheels", tmp)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_stage_installs_and_enables_the_kiosk(root: Path) -> None:
    assert in_root(root, "systemctl", "is-enabled", "kiosk.service").stdout.strip() == "enabled"
    version = in_root(root, "/opt/kiosk/bin/kiosk", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"kiosk {SOFTWARE_VERSION}"
    groups = in_root(root, "id", "-nG", "kiosk").stdout.split()
    assert {"kiosk", "video", "audio", "gpio"} <= set(groups)
    # the pi extra's compiled modules load inside the image
    modules = in_root(root, "/opt/kiosk/bin/python", "-c", "import alsaaudio, systemd.daemon")
    assert modules.returncode == 0, modules.stderr
    # nothing secret in the image
    assert not (root / "var/lib/kiosk").exists()
    assert not list((root / "opt/kiosk-dist").glob("*.toml"))


def test_the_unit_runs_under_systemd_and_the_watchdog_restarts_a_frozen_daemon(
    root: Path, tmp_path: Path
) -> None:
    add_check(root, watchdog_s=3, slowness=1)
    results = tmp_path / "results"
    results.mkdir()
    console = run(
        # on SIGTERM nspawn powers the container off: nothing outlives a hung boot
        "timeout", "--kill-after=20", "180",
        "systemd-nspawn", "-q", "--register=no", "--keep-unit", "-b", "--private-network",
        "--console=pipe", f"--directory={root}", f"--bind={results}:/results",
    )  # fmt: skip
    assert_checked(results, console.stdout + console.stderr)
