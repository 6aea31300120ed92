"""Logging set-up: one handler on stderr (journald arrives with the systemd integration)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class StatusLineHandler(logging.StreamHandler[TextIO]):
    """Logs above a status line that stays at the bottom of a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._status = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write("\r\x1b[2K")
        super().emit(record)
        self._draw()

    def set_status(self, text: str) -> None:
        self._status = text
        self.acquire()
        try:
            self.stream.write("\r\x1b[2K")
            self._draw()
        finally:
            self.release()

    def _draw(self) -> None:
        self.stream.write(self._status)
        self.stream.flush()

    def clear(self) -> None:
        self._status = ""
        self.stream.write("\r\x1b[2K")
        self.stream.flush()


def setup(level: str, status_line: bool = False) -> StatusLineHandler | None:
    """Configure the root logger; returns the status-line handler when asked for one."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    status = StatusLineHandler(sys.stderr) if status_line else None
    handler: logging.Handler = status or logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log is noise for a local control socket
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return status
