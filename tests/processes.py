"""The real `kiosk` and `clinic serve` commands as subprocesses, as systemd runs them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import aiohttp

from kiosk.control import request
from kiosk.errors import ControlError


class KioskProcess:
    def __init__(self, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.socket = state_dir / "control.sock"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")},
            "KIOSK_CONFIG": os.devnull,
            "KIOSK_STATE_DIR": str(state_dir),
            "KIOSK_TERMINAL": "false",
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.command = [sys.executable, "-m", "kiosk.cli", "run"]
        self.started_at = 0.0
        self.ready_after = 0.0
        self.stderr = ""  # what it logged, once killed
        # its log goes to a file, never a pipe: a chatty daemon would fill a pipe nobody
        # reads until it ends, and block in the middle of logging (a decoder, say)
        self._log: IO[str] | None = None

    async def start(self, timeout: float = 20) -> KioskProcess:
        self.started_at = time.monotonic()
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 (closed by stop or kill)
        self.proc = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=self._log, text=True
        )
        while time.monotonic() - self.started_at < timeout:
            if self.proc.poll() is not None:
                logged = self._logged(close=True)
                raise RuntimeError(f"kiosk run exited {self.proc.returncode}:\n{logged}")
            try:
                await self.status()
            except ControlError:
                await asyncio.sleep(0.02)
                continue
            self.ready_after = time.monotonic() - self.started_at
            return self
        self.kill()  # nobody would stop it: whoever called start has no daemon to stop
        raise TimeoutError(
            f"kiosk run did not answer on its control socket in {timeout} s:\n{self.stderr}"
        )

    async def status(self) -> dict[str, Any]:
        return await request(self.socket, "GET", "/status")

    async def press(self, number: int) -> dict[str, Any]:
        return await request(self.socket, "POST", f"/buttons/{number}/press")

    def stop(self, timeout: float = 10) -> tuple[int, str, float]:
        """SIGTERM; returns the exit code, stderr and how long stopping took."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.stderr = self._logged(close=True)
        return self.proc.returncode, self.stderr, time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL if still running; always reap it and keep what it logged."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self._log is not None:
            self.stderr = self._logged(close=True)

    def logged(self) -> str:
        """What it has logged so far, read without moving the offset it writes at (the
        daemon shares the file's offset with this process)."""
        if self._log is None:
            return self.stderr
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")

    def _logged(self, close: bool = False) -> str:
        logged = self.logged()
        if close and self._log is not None:
            self._log.close()
            self._log = None
        return logged

    def stderr_tail(self, lines: int = 40) -> str:
        """The end of what a killed daemon logged (for a failing test's message)."""
        return "\n".join(self.stderr.splitlines()[-lines:])


class ClinicProcess:
    """`clinic serve` as an operator runs it."""

    def __init__(
        self, db: Path | str, port: int, args: tuple[str, ...] = (), log: Path | None = None
    ) -> None:
        self.db, self.port, self.args, self.log = db, port, args, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Its warnings and errors go to ``log``, if given."""
        with self.log.open("wb") if self.log else open(os.devnull, "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "clinic.cli", "serve", "--db", str(self.db),
                 "--port", str(self.port), "--log-level", "WARNING", *self.args],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def start(self, timeout: float = 20) -> None:
        self.proc = self._spawn()
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + timeout
            while True:
                assert self.proc.poll() is None, "clinic serve exited"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/api/v1/clinics/x/rooms") as response:
                        if response.status == 401:
                            return
                assert time.monotonic() < deadline, "clinic serve did not answer"
                await asyncio.sleep(0.05)

    def kill(self, how: signal.Signals = signal.SIGKILL) -> float:
        """SIGKILL, as a crash or a power cut would (or ``how``, e.g. systemd's SIGTERM);
        when it happened (monotonic)."""
        at = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(how)
            self.proc.wait(30)
        return at
