"""A real TURN server (Debian's coturn) on loopback, with a TURN REST shared secret."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clinic_server import free_port


@dataclass
class Coturn:
    port: int
    secret: bytes
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"turnserver exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError("turnserver did not listen")


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    if shutil.which("turnserver") is None:
        pytest.fail("coturn is missing: apt-get install coturn (./dev test does)")
    port, relay = free_port(), free_port()
    secret = secrets.token_hex(16).encode()
    log = tmp_path / "turn.log"
    command = [
        "turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
        "--relay-ip=127.0.0.1", f"--min-port={relay}", f"--max-port={relay + 20}",
        "--use-auth-secret", f"--static-auth-secret={secret.decode()}",
        "--realm=clinic.test", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
        "--allow-loopback-peers", f"--db={tmp_path / 'turndb'}",
        f"--pidfile={tmp_path / 'turn.pid'}", "--log-file=stdout", "--simple-log", "--verbose",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        yield Coturn(port, secret, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _loopback(loopback_ice: None) -> None:
    """Participants in this process offer 127.0.0.1 (aioice does not by itself)."""
