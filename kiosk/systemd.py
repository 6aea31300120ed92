"""Living under systemd: sd_notify (READY, STATUS, WATCHDOG, STOPPING).

systemd-python is used when it is installed (the `pi` extra); off the box, or in a venv
without it, the same datagrams go to ``$NOTIFY_SOCKET`` directly. Outside systemd there
is no socket and every call is a no-op.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket

log = logging.getLogger(__name__)


def _send(message: str) -> bool:
    try:
        # the `pi` extra; by name, as the repository's unit-file folder is also "systemd"
        daemon = importlib.import_module("systemd.daemon")
        return bool(daemon.notify(message))
    except ImportError:
        pass
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError as exc:
            log.debug("sd_notify %r failed: %s", message, exc)
            return False
    return True


class Notifier:
    def __init__(self) -> None:
        self._status = ""

    @property
    def active(self) -> bool:
        return bool(os.environ.get("NOTIFY_SOCKET"))

    def ready(self) -> None:
        _send("READY=1")

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            _send(f"STATUS={text}")

    def stopping(self) -> None:
        _send("STOPPING=1")

    def watchdog_interval(self) -> float | None:
        """Half of WATCHDOG_USEC, when the watchdog is on for this very process."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 2_000_000
        except ValueError:
            return None

    async def keep_watchdog_fed(self, interval: float) -> None:
        """From a task on the main loop: a blocked loop stops the pings, and systemd
        restarts the daemon."""
        while True:
            _send("WATCHDOG=1")
            await asyncio.sleep(interval)
