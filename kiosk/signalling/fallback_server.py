"""The LAN fallback host: the clinic's signalling hub, run by a kiosk on the clinic LAN.

Same protocol and hub as the cloud (PROTOCOL.md section 2), served with aiohttp's
AppRunner; joins are checked offline by `FallbackAuthenticator`. No ICE servers are handed
out: on the LAN host candidates are enough, and a STUN server would only stall gathering.
"""

from __future__ import annotations

import logging

from aiohttp import web

from kiosk.signalling.fallback_tokens import FallbackAuthenticator
from kiosk.signalling.hub import FALLBACK_SOCKET_LIMITS, Hub
from kiosk.signalling.resume import ResumeSecret
from kiosk.signalling.server import add_signalling

log = logging.getLogger(__name__)


class FallbackServer:
    def __init__(
        self,
        authenticate: FallbackAuthenticator,
        host: str,
        port: int,
        resume_secret: ResumeSecret | None = None,
    ) -> None:
        self.authenticate = authenticate
        self.hub = Hub(
            authenticate, resume_secret=resume_secret, socket_limits=FALLBACK_SOCKET_LIMITS
        )
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; OSError when the port is taken."""
        app = web.Application()
        add_signalling(app, self.hub)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("LAN fallback signalling on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("LAN fallback signalling stopped")
