"""The state directory as an SD card really behaves: writes that fail, files that rot.

A write never raises: what the daemon received is in force in memory at once, and the
file is written when the card lets it (retried with backoff), its content always the
latest asked for. A read never crashes the daemon either: a file that is truncated, not
JSON, of the wrong shape, a directory or unreadable is logged once at ERROR, moved aside
(``NAME.corrupt-<UTC time>``) for whoever diagnoses the box, and read as missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from kiosk.management.backoff import Backoff
from kiosk.management.files import write_atomically

log = logging.getLogger(__name__)

T = TypeVar("T")

# what a parser may raise about bytes that are not what it expects (pydantic's
# ValidationError and UnicodeDecodeError are ValueErrors)
PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)


@dataclass(frozen=True)
class StorageProblem:
    """Why a state file could not be written (status, heartbeat, the admin page)."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def describe(exc: OSError) -> str:
    """``ENOSPC: No space left on device``: the errno's name first, for grep."""
    name = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{name}: {text}" if name else text


class CorruptFileError(ValueError):
    """A state file whose bytes are not what it should hold."""


# content and mode to write, or None to delete the file
_Pending = tuple[bytes, int] | None


class StateFiles:
    """Reads and writes of the files in one state directory (any thread may call)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._lock = threading.Lock()
        # one flush at a time: a retry still writing old bytes must not land after a newer
        # write of the same file
        self._flushing = threading.Lock()
        self._pending: dict[Path, _Pending] = {}
        self._failing: dict[Path, str] = {}  # path -> reason of its last failed write
        self.problem: StorageProblem | None = None

    # ---- writing ----------------------------------------------------------------------

    def write(self, path: Path, data: bytes, mode: int = 0o600) -> bool:
        """Write ``data`` atomically now if the card lets us, else keep it for later.

        True if it is on disk. A failure is logged (once per file and reason) and shows in
        :attr:`problem` until a later attempt succeeds.
        """
        with self._lock:
            self._pending[path] = (data, mode)
        return self.flush()

    def delete(self, path: Path) -> bool:
        with self._lock:
            self._pending[path] = None
        return self.flush()

    def pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def flush(self) -> bool:
        """Try every write that is waiting; True if none is left."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            waiting = list(self._pending.items())
        for path, item in waiting:
            try:
                if item is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    write_atomically(path, item[0], mode=item[1])
            except OSError as exc:
                self._failed(path, exc)
                continue
            with self._lock:
                if self._pending.get(path, 0) is item:  # not replaced meanwhile
                    del self._pending[path]
            self._succeeded(path)
        with self._lock:
            return not self._pending

    def _failed(self, path: Path, exc: OSError) -> None:
        reason = describe(exc)
        with self._lock:
            first = self._failing.get(path) != reason
            self._failing[path] = reason
            self.problem = StorageProblem(str(path), reason)
        if first:
            log.error("cannot write %s (%s); kept in memory, writing it again later", path, reason)

    def _succeeded(self, path: Path) -> None:
        with self._lock:
            was = self._failing.pop(path, None)
            if was is not None:
                self.problem = next(
                    (StorageProblem(str(p), r) for p, r in self._failing.items()), None
                )
        if was is not None:
            log.warning("wrote %s: storage works again", path)

    async def keep_writing(self, backoff: Backoff | None = None) -> None:
        """Until cancelled: retry what could not be written, with backoff (1 s to 60 s)."""
        backoff = backoff or Backoff(initial_s=1.0, cap_s=60.0)
        while True:
            if not self.pending():
                backoff.reset()
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(backoff.next_delay())
            await asyncio.to_thread(self.flush)

    # ---- reading ----------------------------------------------------------------------

    def load(self, path: Path, parse: Callable[[bytes], T], what: str, then: str = "") -> T | None:
        """``parse`` of the file's bytes (or of what is waiting to be written to it); None
        when it does not exist, or when it is corrupt (logged with ``then``, what follows
        for the box, and moved aside)."""
        with self._lock:
            if path in self._pending:
                item = self._pending[path]
                if item is None:
                    return None
                return parse(item[0])  # we made these bytes ourselves
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            self._corrupt(path, what, "a directory, not a file", then)
            return None
        except OSError as exc:
            self._corrupt(path, what, f"unreadable ({describe(exc)})", then)
            return None
        try:
            return parse(data)
        except PARSE_ERRORS as exc:
            if not data:
                reason = "empty"
            elif isinstance(exc, UnicodeDecodeError):
                reason = "not text"
            else:
                reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            self._corrupt(path, what, reason, then)
            return None

    def _corrupt(self, path: Path, what: str, reason: str, then: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            os.rename(path, aside)
        except OSError as exc:
            moved = f"could not move it aside ({describe(exc)})"
        else:
            moved = f"moved aside to {aside.name}"
        then = f"; {then}" if then else ""
        log.error("%s %s is corrupt: %s; %s%s", what, path, reason, moved, then)

    def remove_leftovers(self, names: tuple[str, ...]) -> None:
        """Temp files of writes that a power loss interrupted."""
        for name in names:
            try:
                leftovers = list(self.dir.glob(f".{name}.*"))
            except OSError as exc:
                log.warning("cannot list %s: %s", self.dir, describe(exc))
                return
            for leftover in leftovers:
                try:
                    leftover.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("cannot remove %s: %s", leftover, describe(exc))
