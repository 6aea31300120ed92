"""Resume keys (PROTOCOL.md section 6): a session whose socket dropped takes its old peer id
back, even from a server that restarted meanwhile and remembers nothing of it.

The key is an HMAC over room, peer id and token subject under a secret that survives
restarts (the clinic's: derived from its signing key; a LAN host's: from its device key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.signalling.tokens import JoinClaims

ResumeSecret = Callable[[JoinClaims], Awaitable[bytes]]
_LABEL = b"clinic-kiosk signalling resume key v1"


def resume_key(secret: bytes, room_id: str, peer_id: str, subject: str) -> str:
    message = "\n".join((room_id, peer_id, subject)).encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def is_valid(secret: bytes, key: str, room_id: str, peer_id: str, subject: str) -> bool:
    return hmac.compare_digest(resume_key(secret, room_id, peer_id, subject), key)


def secret_of(private_key: Ed25519PrivateKey) -> bytes:
    """A resume secret that lives as long as ``private_key`` (and says nothing of it)."""
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hmac.new(raw, _LABEL, hashlib.sha256).digest()


def constant(secret: bytes) -> ResumeSecret:
    """The same secret for every room (a LAN fallback host serves one clinic)."""

    async def same(claims: JoinClaims) -> bytes:
        return secret

    return same


def ephemeral() -> ResumeSecret:
    """A secret for this process only: resume works across socket drops, not restarts."""
    return constant(secrets.token_bytes(32))
