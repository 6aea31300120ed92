"""The device's side of the LAN fallback: its key, the clinic's grant, local join grants,
and the fallback hub it runs when the admin's config names it a host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.call.ice import host_addresses
from kiosk.management.state import Credential, DeviceState
from kiosk.signalling import resume, tokens
from kiosk.signalling.channel import CLOSE_REVOKED, FallbackGrant
from kiosk.signalling.device_config import FallbackConfig
from kiosk.signalling.fallback_tokens import FallbackAuthenticator, local_join_token
from kiosk.signalling.messages import SIGNAL_PATH

if TYPE_CHECKING:
    from kiosk.signalling.discovery import Announcer
    from kiosk.signalling.fallback_server import FallbackServer

log = logging.getLogger(__name__)


class FallbackUnavailableError(ConnectionError):
    """No way to join on the LAN: fallback off, no credential yet, or no host known."""


def signal_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"ws://{host}:{port}{SIGNAL_PATH}"


class LanFallback:
    def __init__(
        self,
        state: DeviceState,
        listen_host: str,
        port: int | None = None,
        interfaces: list[str] | None = None,
    ) -> None:
        self._state = state
        self._interfaces = interfaces or []  # where mDNS runs; empty: every interface
        self._listen_host = listen_host
        self._port = port
        self.settings = FallbackConfig()
        self.grant: FallbackGrant | None = None
        self._public_key_pem: str | None = None
        self._key: Ed25519PrivateKey | None = None
        self._server: FallbackServer | None = None
        self._announcer: Announcer | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    async def load(self) -> None:
        """The device key (made on first use) and the grant cached from the last session."""
        self._key = await asyncio.to_thread(self._state.device_key)
        self._public_key_pem = tokens.public_key_pem(self._key.public_key())
        self.grant = await asyncio.to_thread(self._state.fallback)

    async def apply(
        self, credential: Credential, settings: FallbackConfig, grant: FallbackGrant | None
    ) -> None:
        """A config (and its grant, when it came with one) is in force."""
        self.settings = settings
        if not settings.enabled:
            grant = None  # the admin turned it off: no credential is kept
            if self.grant is not None:
                self.grant = None
                await asyncio.to_thread(self._state.save_fallback, None)
        elif grant is not None and grant != self.grant:
            self.grant = grant
            await asyncio.to_thread(self._state.save_fallback, grant)
        should_host = settings.enabled and credential.device_id in settings.hosts
        if self._server is not None and self.grant is not None:
            revoked = frozenset(self.grant.revoked)
            self._server.authenticate.revoked = revoked
            await self._server.hub.kick(lambda c: c.subject in revoked, CLOSE_REVOKED, "revoked")
        if should_host and self._server is None and self.grant is not None:
            # the hub and its web server only on a host: 1 MiB that other boxes never use
            from kiosk.signalling.fallback_server import FallbackServer

            authenticator = FallbackAuthenticator(
                credential.clinic_id,
                tokens.load_public_key(self.grant.clinic_public_key),
                frozenset(self.grant.revoked),
            )
            server = FallbackServer(
                authenticator,
                self._listen_host,
                self._port or settings.port,
                resume.constant(resume.secret_of(self._key)) if self._key is not None else None,
            )
            try:
                await server.start()
            except OSError as exc:
                log.error("cannot host LAN fallback signalling: %s", exc)
            else:
                self._server = server
                await self._announce(credential)
        elif not should_host and self._server is not None:
            await self.stop_hosting()

    def report(self) -> dict[str, Any] | None:
        """For the heartbeat: what the clinic needs to issue credentials and find hosts."""
        if not self.enabled or self._public_key_pem is None:
            return None
        report: dict[str, Any] = {"public_key": self._public_key_pem}
        if self._server is not None:
            listen = self._server.host
            report["addresses"] = host_addresses() if listen in ("0.0.0.0", "::") else [listen]
            report["port"] = self._server.port
        return report

    def status(self) -> dict[str, Any]:
        grant = self.grant
        return {
            "enabled": self.enabled,
            "hosting": f"{self._server.host}:{self._server.port}" if self._server else None,
            "hosted_rooms": self._server.hub.rooms() if self._server else {},
            "hosts": [h.model_dump(mode="json") for h in grant.hosts] if grant else [],
            "credential_expires_at": grant.expires_at if grant else None,
        }

    async def grants(
        self, credential: Credential, room_id: str, name: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Join grants for ``room_id`` to try in order: every address the clinic gave for
        each host, then whatever mDNS finds when all of those are stale."""
        grant = self.grant
        if not self.enabled:
            raise FallbackUnavailableError("the LAN fallback is off in this device's config")
        if grant is None or grant.credential is None or self._key is None:
            raise FallbackUnavailableError("no fallback credential from the clinic yet")
        token = local_join_token(
            self._key, grant.credential, device_id=credential.device_id, room_id=room_id, name=name
        )
        tried = set()
        for host in grant.hosts:
            for address in host.addresses:
                tried.add((address, host.port))
                yield {"signal_url": signal_url(address, host.port), "token": token}
        from kiosk.signalling import discovery  # zeroconf only once it is needed

        hosts = [h.device_id for h in grant.hosts]
        for found in await discovery.discover(credential.clinic_id, hosts, self._interfaces):
            for address in found.addresses:
                if (address, found.port) not in tried:
                    yield {"signal_url": signal_url(address, found.port), "token": token}

    async def _announce(self, credential: Credential) -> None:
        from kiosk.signalling.discovery import Announcer  # zeroconf only on a host

        report = self.report()
        assert report is not None
        announcer = Announcer()
        try:
            await announcer.start(
                credential.device_id, credential.clinic_id, report["addresses"], report["port"]
            )
        except OSError as exc:
            log.warning("cannot announce the fallback host on mDNS: %s", exc)
        else:
            self._announcer = announcer

    async def stop_hosting(self) -> None:
        announcer, self._announcer = self._announcer, None
        if announcer is not None:
            await announcer.stop()
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def forget(self) -> None:
        """Revoked: no hosting, no grant (the state directory forgets the key)."""
        await self.stop_hosting()
        self.grant, self._key, self._public_key_pem = None, None, None
        self.settings = FallbackConfig()
