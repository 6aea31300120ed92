"""Cloud or local signalling: which one new joins use, and when to switch.

Local when the clinic is unreachable and the admin's config enables the LAN fallback.
Back to the cloud once the clinic answers again, but never in the middle of a call that
went over the LAN: that waits until the call ends. Every switch is logged and kept until
the next heartbeat reports it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

log = logging.getLogger(__name__)

Route = Literal["cloud", "local"]


class SignallingMode:
    def __init__(self) -> None:
        self.current: Route = "cloud"
        self.unreported: list[dict[str, Any]] = []

    def decide(
        self, *, cloud_up: bool, fallback_enabled: bool, call_route: Route | None, reason: str
    ) -> bool:
        """Apply the rule; True if the mode changed."""
        local = call_route == "local" or (not cloud_up and fallback_enabled)
        target: Route = "local" if local else "cloud"
        if target == self.current:
            return False
        log.warning("signalling: %s -> %s (%s)", self.current, target, reason)
        self.current = target
        self.unreported.append({"to": target, "at": round(time.time(), 3), "reason": reason})
        del self.unreported[:-50]
        return True

    def take_unreported(self) -> list[dict[str, Any]]:
        taken, self.unreported = self.unreported, []
        return taken
