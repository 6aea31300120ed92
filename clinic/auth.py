"""Passwords, bearer tokens and who a request comes from."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clinic.errors import RateLimitedError

LOGIN_TTL_S = 12 * 3600
T = TypeVar("T")
# argon2 hashes at once (one per core of a small server), and how many may wait for one:
# a login flood from many addresses is answered 429 instead of queueing without end
HASHING = 2
HASH_QUEUE = 32


def new_secret() -> str:
    """A random bearer secret of 256 bits."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """How a bearer secret is stored: a secret of 256 random bits needs no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Passwords:
    """argon2id, off the event loop (a hash takes tens of milliseconds on purpose), a few at
    a time so that hashing never takes every thread or core from signalling."""

    def __init__(self, hashing: int = HASHING, queue: int = HASH_QUEUE) -> None:
        self._hasher = PasswordHasher()
        self._decoy: str | None = None
        self._slots = asyncio.Semaphore(hashing)
        self._queue = queue
        self._waiting = 0

    def _decoy_hash(self) -> str:
        # verified against when the email is unknown, so both answers take as long;
        # made on first need: making it costs a whole hash
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    async def _run(self, work: Callable[[], T]) -> T:
        if self._waiting >= self._queue:
            raise RateLimitedError("the service is busy checking passwords; try again", 1.0)
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._decoy_hash(), password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await self._run(check)
        return ok and password_hash is not None
