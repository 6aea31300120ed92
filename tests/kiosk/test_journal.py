"""Under systemd the daemon logs to journald, each entry with its state, room and device."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.processes import KioskProcess


def journal_fields(datagram: bytes) -> dict[str, str]:
    """The native journal protocol's simple form: one FIELD=value per line."""
    fields = {}
    for line in datagram.decode().splitlines():
        name, _, value = line.partition("=")
        fields[name] = value
    return fields


async def test_log_entries_reach_the_journal_with_the_daemons_fields(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs (namespace) root to mount a journal socket: ./dev test runs so")
    journal = tmp_path / "journal"
    journal.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(journal / "socket"))
    sock.setblocking(False)
    kiosk = KioskProcess(tmp_path / "state", {
        "JOURNAL_STREAM": "8:12345",  # what systemd sets when stderr goes to the journal
        "KIOSK_ENROLLMENT_FILE": str(tmp_path / "none"),
    })  # fmt: skip
    # systemd-python writes to /run/systemd/journal/socket: ours, in a mount namespace
    script = (
        "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
        f'mount --bind {journal} /run/systemd/journal && exec "$@"'
    )
    kiosk.command = ["unshare", "-m", "sh", "-c", script, "sh",
                     sys.executable, "-m", "kiosk.cli", "run"]  # fmt: skip
    loop = asyncio.get_running_loop()
    try:
        await kiosk.start()
        entries = []
        async with asyncio.timeout(10):
            while not any("ready in" in e.get("MESSAGE", "") for e in entries):
                entries.append(journal_fields(await loop.sock_recv(sock, 65536)))
        _, stderr, _ = kiosk.stop()
    finally:
        kiosk.kill()
        sock.close()
    ready = next(e for e in entries if "ready in" in e["MESSAGE"])
    assert ready["SYSLOG_IDENTIFIER"] == "kiosk"
    assert ready["PRIORITY"] == "6"  # info
    assert ready["KIOSK_STATE"] == "not_enrolled"
    assert ready["KIOSK_DEVICE_ID"] == ""
    assert ready["LOGGER"] == "kiosk.run"
    assert stderr == "", "under systemd the log goes to the journal, not stderr"
