"""Files that survive power loss: written to a temp file, fsynced, renamed over."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """After a crash at any point, ``path`` holds either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # before any byte is written: secrets are never world-readable
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # the rename itself is durable only once the directory is synced
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def json_bytes(value: Any) -> bytes:
    """How the state files hold JSON: indented, keys sorted (diffable by a person)."""
    return json.dumps(value, indent=2, sort_keys=True).encode()


def write_json(path: Path, value: Any, mode: int = 0o644) -> None:
    write_atomically(path, json_bytes(value), mode)
