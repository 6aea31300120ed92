"""ICE servers for every participant: STUN, and TURN with short-lived credentials.

The TURN REST form (draft-uberti-behave-turn-rest, coturn's `use-auth-secret`): the
username is ``<expiry unix time>:<subject>`` and the password is the base64 HMAC-SHA1 of
the username under the secret the clinic shares with its TURN server. The secret never
leaves the clinic service; a credential stops working at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.signalling.tokens import JoinClaims

DEFAULT_TTL_S = 3600


def turn_password(secret: bytes, username: str) -> str:
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class IceConfig:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    secret: bytes = field(default=b"", repr=False)
    ttl_s: int = DEFAULT_TTL_S
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        for url in self.stun_urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"{url!r} is not a stun: URL")
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"{url!r} is not a turn: or turns: URL")
        if self.turn_urls and not self.secret:
            raise ValueError("TURN servers need the shared secret (--turn-secret-file)")
        if self.ttl_s < 60:
            raise ValueError(f"a TURN credential lifetime of {self.ttl_s} s is too short")

    def credential(self, subject: str) -> tuple[str, str]:
        username = f"{int(self.clock()) + self.ttl_s}:{subject}"
        return username, turn_password(self.secret, username)

    async def ice_servers(self, claims: JoinClaims) -> list[dict[str, Any]]:
        """What `joined.ice_servers` carries for the participant ``claims`` names."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            username, password = self.credential(claims.subject)
            servers.append(
                {"urls": list(self.turn_urls), "username": username, "credential": password}
            )
        return servers


def read_secret(path: Path) -> bytes:
    """The shared secret from a file (systemd's LoadCredential= puts it in one)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the TURN secret from {path}: {exc.strerror}") from exc
    if len(secret) < 16:
        raise ValueError(f"the TURN secret in {path} is shorter than 16 bytes")
    return secret
