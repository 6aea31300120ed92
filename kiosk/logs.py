"""Logging set-up: to journald with structured fields under systemd, else to stderr."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REPEAT_WINDOW_S = 60.0
REPEAT_KEYS = 1000  # message templates remembered at most (forgotten all at once past it)
LIBRARIES = ("aiortc", "aioice")


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


class Repeats(logging.Filter):
    """A library's message once a minute, not once a frame: aiortc logs a WARNING for
    every video frame it cannot decode (each frame until the first keyframe of a link, and
    for as long as a link loses packets), into a journal on an SD card. The next one after
    the minute says how many were left out. The daemon's own messages always pass."""

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        # (logger, message template) -> (when last let through, how many left out since);
        # templates are the libraries' own constants (the objects are arguments), but a
        # daemon runs for months: bounded all the same
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()  # decoder threads log too

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(LIBRARIES):
            return True
        key, now = (record.name, str(record.msg)), self._clock()
        with self._lock:
            shown, left_out = self._seen.get(key, (-self._window_s, 0))
            if now - shown < self._window_s:
                self._seen[key] = (shown, left_out + 1)
                return False
            if len(self._seen) >= REPEAT_KEYS:
                self._seen.clear()
            self._seen[key] = (now, 0)
        if left_out:
            record.msg = f"{record.msg} (and {left_out} more like it before)"
        return True


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
    handler.addFilter(Repeats())
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log is noise for a local control socket; aioice and aiortc say a
    # dozen things per call at INFO (every candidate pair): only when debugging
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for chatty in ("aioice", "aiortc"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    return status
