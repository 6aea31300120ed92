"""Who may join on a LAN fallback host, decided offline.

The clinic issues each device a *fallback credential* with its config: a JWT signed with
the clinic's key naming the device, its clinic, the rooms its buttons may join, an expiry
and the device's own Ed25519 public key. To join on a fallback host the device signs a
short *local join token* with its private key and carries the credential inside it. The
host needs only the clinic's public key to check both; clinic-signed join tokens that are
still valid are accepted as well, from devices and clinicians only: patients and guests come
from the internet, never over the clinic LAN. The rules are the cloud's: a device joins the
rooms its config names, of its own clinic, and nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.signalling import tokens
from kiosk.signalling.messages import Role
from kiosk.signalling.tokens import ALGORITHM, ForbiddenError, JoinClaims, TokenError

CREDENTIAL_AUDIENCE = "kiosk-fallback"
LOCAL_AUDIENCE = "kiosk-signal-local"
CREDENTIAL_TTL_S = 7 * 24 * 3600
LOCAL_TOKEN_TTL_S = 60
LAN_ROLES = frozenset({Role.DEVICE, Role.CLINICIAN})


@dataclass(frozen=True, slots=True)
class FallbackCredential:
    device_id: str
    name: str
    clinic_id: str
    rooms: frozenset[str]
    public_key: Ed25519PublicKey
    expires_at: int


def issue_credential(
    clinic_key: Ed25519PrivateKey,
    *,
    device_id: str,
    name: str,
    clinic_id: str,
    rooms: list[str],
    device_public_key_pem: str,
    ttl_s: int = CREDENTIAL_TTL_S,
    now: float | None = None,
) -> tuple[str, int]:
    """The clinic's side: a credential and its expiry (epoch seconds)."""
    tokens.load_public_key(device_public_key_pem)  # refuse anything but an Ed25519 key
    payload = {
        "aud": CREDENTIAL_AUDIENCE,
        "sub": device_id,
        "name": name,
        "clinic": clinic_id,
        "rooms": sorted(set(rooms)),
        "key": device_public_key_pem,
    }
    return tokens.encode(payload, clinic_key, ttl_s, now)


def verify_credential(credential: str, clinic_key: Ed25519PublicKey) -> FallbackCredential:
    claims = _decode(credential, clinic_key, CREDENTIAL_AUDIENCE, "fallback credential")
    try:
        rooms = claims["rooms"]
        if not isinstance(rooms, list) or not all(isinstance(r, str) for r in rooms):
            raise TokenError("fallback credential: rooms is not a list of room ids")
        return FallbackCredential(
            device_id=str(claims["sub"]),
            name=str(claims["name"]),
            clinic_id=str(claims["clinic"]),
            rooms=frozenset(rooms),
            public_key=tokens.load_public_key(str(claims["key"])),
            expires_at=int(claims["exp"]),
        )
    except (KeyError, ValueError) as exc:
        raise TokenError(f"invalid fallback credential: {exc}") from exc


def local_join_token(
    device_key: Ed25519PrivateKey,
    credential: str,
    *,
    device_id: str,
    room_id: str,
    name: str,
    ttl_s: int = LOCAL_TOKEN_TTL_S,
    now: float | None = None,
) -> str:
    """The device's side: a join token for a fallback host, signed with its own key."""
    payload = {
        "aud": LOCAL_AUDIENCE,
        "sub": device_id,
        "room": room_id,
        "name": name,
        "cred": credential,
        "jti": secrets.token_urlsafe(12),
    }
    return tokens.encode(payload, device_key, ttl_s, now)[0]


class FallbackAuthenticator:
    """The fallback host's check of every join, offline: `Hub(authenticate=...)`."""

    def __init__(
        self, clinic_id: str, clinic_key: Ed25519PublicKey, revoked: frozenset[str] = frozenset()
    ) -> None:
        self._clinic_id = clinic_id
        self._clinic_key = clinic_key
        self.revoked = revoked  # devices the clinic revoked, as it last said

    async def __call__(self, token: str) -> JoinClaims:
        try:
            audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed join token: {exc}") from exc
        if audience == tokens.AUDIENCE:
            claims = tokens.verify(token, self._clinic_key)
            if claims.role not in LAN_ROLES:
                raise TokenError(f"a {claims.role.value} cannot join on the clinic's LAN")
        elif audience == LOCAL_AUDIENCE:
            claims = self._local(token)
        else:
            raise TokenError("not a join token")
        if claims.clinic_id != self._clinic_id:
            raise TokenError("join token of another clinic")
        if claims.subject in self.revoked:
            raise TokenError("this device was revoked by the clinic")
        return claims

    def _local(self, token: str) -> JoinClaims:
        unverified = jwt.decode(token, options={"verify_signature": False})
        carried = unverified.get("cred")
        if not isinstance(carried, str):
            raise TokenError("local join token carries no fallback credential")
        credential = verify_credential(carried, self._clinic_key)
        claims = _decode(token, credential.public_key, LOCAL_AUDIENCE, "local join token")
        if claims.get("sub") != credential.device_id:
            raise TokenError("local join token signed for another device")
        room = claims.get("room")
        if room not in credential.rooms:
            raise ForbiddenError(f"this device's credential does not name room {room}")
        return JoinClaims(
            subject=credential.device_id,
            name=credential.name,
            role=Role.DEVICE,
            clinic_id=credential.clinic_id,
            room_id=str(room),
            expires_at=min(int(claims["exp"]), credential.expires_at),
            token_id=str(claims.get("jti", "")),
        )


def _decode(token: str, key: Ed25519PublicKey, audience: str, what: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            leeway=5,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError(f"{what} expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid {what}: {exc}") from exc
    return claims
