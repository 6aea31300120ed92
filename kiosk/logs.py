"""Logging set-up: to journald with structured fields under systemd, else to stderr."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
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


class DaemonFields(logging.Filter):
    """Adds the daemon's state, room and device id to every record; the journal handler
    sends upper-case record attributes as journal fields (`journalctl KIOSK_STATE=in_call`)."""

    def __init__(self) -> None:
        super().__init__()
        # until the daemon exists (imports, the event loop's first lines)
        self.source: Callable[[], dict[str, str]] = lambda: {"KIOSK_STATE": "starting"}

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self.source().items():
            setattr(record, name, value)
        return True


FIELDS = DaemonFields()


def _journal_handler() -> logging.Handler | None:
    """systemd-python's handler when stderr goes to the journal and the `pi` extra is in."""
    if not os.environ.get("JOURNAL_STREAM"):
        return None
    try:
        # by name: the repository's unit-file folder is also called "systemd"
        journal = importlib.import_module("systemd.journal")
    except ImportError:
        return None
    handler: logging.Handler = journal.JournalHandler(SYSLOG_IDENTIFIER="kiosk")
    handler.addFilter(FIELDS)
    return handler


def setup(level: str, status_line: bool = False) -> StatusLineHandler | None:
    """Configure the root logger; returns the status-line handler when asked for one."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    status = StatusLineHandler(sys.stderr) if status_line else None
    journal = None if status_line else _journal_handler()
    handler = status or journal or logging.StreamHandler(sys.stderr)
    # the journal stamps the time and the priority itself
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s" if journal else FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log is noise for a local control socket; aioice and aiortc say a
    # dozen things per call at INFO (every candidate pair): only when debugging
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for chatty in ("aioice", "aiortc"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    return status
