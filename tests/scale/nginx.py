"""Debian's nginx in front of clinic processes, with the site the project ships
(systemd/clinic-nginx.conf), pointed at the test's ports."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.clinic_server import free_port

SITE = Path(__file__).resolve().parents[2] / "systemd" / "clinic-nginx.conf"


def site_for(upstreams: list[int], port: int) -> str:
    """The shipped site, listening on ``port`` of loopback, over ``upstreams``."""
    site = SITE.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in upstreams
    )
    site, n = re.subn(r"(upstream clinic_processes \{\n)(?:    server .*\n)+", rf"\g<1>{servers}",
                      site)  # fmt: skip
    assert n == 1, "the site's upstream block changed shape"
    site, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", site)
    assert n == 1, "the site's listen line changed shape"
    return site


class Nginx:
    def __init__(self, directory: Path, upstreams: list[int]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = directory
        self._upstreams = upstreams
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            pytest.fail("nginx is missing: apt-get install nginx (./dev test does)")
        self._dir.mkdir(parents=True, exist_ok=True)
        (self._dir / "site.conf").write_text(site_for(self._upstreams, self.port))
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "".join(f"    {kind}_temp_path {self._dir / kind};\n" for kind in kinds)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self._dir / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self._dir / 'nginx.pid'};\n"
            f"error_log {self._dir / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log off;\n{temp}    include {self._dir / 'site.conf'};\n}}\n"
        )
        self._proc = subprocess.Popen(
            [binary, "-p", str(self._dir), "-e", str(self._dir / "error.log"),
             "-c", str(self._dir / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            assert self._proc.poll() is None, (self._dir / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not listen"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
