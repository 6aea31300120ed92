"""Passwords, bearer tokens and who a request comes from."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LOGIN_TTL_S = 12 * 3600


def new_secret() -> str:
    """A random bearer secret of 256 bits."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """How a bearer secret is stored: a secret of 256 random bits needs no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Passwords:
    """argon2id, off the event loop (a hash takes tens of milliseconds on purpose)."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        self._decoy: str | None = None

    def _decoy_hash(self) -> str:
        # verified against when the email is unknown, so both answers take as long;
        # made on first need: making it costs a whole hash
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._decoy_hash(), password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await asyncio.to_thread(check)
        return ok and password_hash is not None
