"""Join tokens: short-lived, bound to one room, signed by the clinic's Ed25519 key.

The clinic service signs them; any hub verifies them with the clinic's public key alone,
so a LAN fallback host can check them with the cloud gone. Format: a JWT (EdDSA).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.signalling.messages import Role

AUDIENCE = "kiosk-signal"
ALGORITHM = "EdDSA"
JOIN_TOKEN_TTL_S = 300


class TokenError(ValueError):
    """A join token that is malformed, forged, expired or not for this hub."""


class ForbiddenError(Exception):
    """A valid token that may not enter its room (e.g. a revoked device)."""


@dataclass(frozen=True, slots=True)
class JoinClaims:
    subject: str  # member, device, guest or patient id
    name: str
    role: Role
    clinic_id: str
    room_id: str
    expires_at: int  # seconds since the epoch
    token_id: str = ""  # the token's jti: one live session per token


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TokenError("the clinic signing key is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise TokenError("the clinic public key is not an Ed25519 key")
    return key


def sign(
    key: Ed25519PrivateKey,
    *,
    subject: str,
    name: str,
    role: Role,
    clinic_id: str,
    room_id: str,
    ttl_s: int = JOIN_TOKEN_TTL_S,
    now: float | None = None,
) -> tuple[str, int]:
    """A join token and its expiry (epoch seconds)."""
    payload = {
        "sub": subject,
        "name": name,
        "role": role.value,
        "clinic": clinic_id,
        "room": room_id,
        "aud": AUDIENCE,
        "jti": secrets.token_urlsafe(12),
    }
    return encode(payload, key, ttl_s, now)


def encode(
    payload: dict[str, Any], key: Ed25519PrivateKey, ttl_s: int, now: float | None = None
) -> tuple[str, int]:
    """``payload`` signed, valid for ``ttl_s`` from ``now``; the token and its expiry."""
    issued = int(time.time() if now is None else now)
    stamped = {**payload, "iat": issued, "exp": issued + ttl_s}
    return jwt.encode(stamped, key, algorithm=ALGORITHM), issued + ttl_s


def unverified_clinic(token: str) -> str:
    """The clinic a token claims to be from, to pick the key that must verify it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"malformed join token: {exc}") from exc
    clinic = claims.get("clinic")
    if not isinstance(clinic, str):
        raise TokenError("join token names no clinic")
    return clinic


def verify(token: str, key: Ed25519PublicKey, *, leeway_s: int = 5) -> JoinClaims:
    """The claims of a valid token; TokenError for anything else."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=leeway_s,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
        return JoinClaims(
            subject=str(claims["sub"]),
            name=str(claims["name"]),
            role=Role(claims["role"]),
            clinic_id=str(claims["clinic"]),
            room_id=str(claims["room"]),
            expires_at=int(claims["exp"]),
            token_id=str(claims.get("jti", "")),
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("join token expired") from exc
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise TokenError(f"invalid join token: {exc}") from exc
