"""Passwords, bearer tokens and who a request comes from."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections import Counter
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
PER_CLIENT = 2


def new_secret() -> str:
    """A random bearer secret of 256 bits."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """How a bearer secret is stored: a secret of 256 random bits needs no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Passwords:
    """argon2id, off the event loop (a hash takes tens of milliseconds on purpose), a few at
    a time so that hashing never takes every thread or core from signalling, and at most
    `PER_CLIENT` at a time for one client, so that one flooding address cannot fill the
    queue in front of everyone else."""

    def __init__(
        self, hashing: int = HASHING, queue: int = HASH_QUEUE, per_client: int = PER_CLIENT
    ) -> None:
        self._hasher = PasswordHasher()
        self._slots = asyncio.Semaphore(hashing)
        self._queue = queue
        self._per_client = per_client
        self._waiting = 0
        self._by_client: Counter[str] = Counter()
        self._check_s: float | None = None  # how long a real check takes, once measured
        self._measuring = asyncio.Lock()

    async def _run(self, work: Callable[[], T], client: str) -> T:
        if self._by_client[client] >= self._per_client:
            raise RateLimitedError("too many logins at once from this address", 1.0)
        if self._waiting >= self._queue:
            raise RateLimitedError("the service is busy checking passwords; try again", 1.0)
        self._waiting += 1
        self._by_client[client] += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._waiting -= 1
            self._by_client[client] -= 1
            if not self._by_client[client]:
                del self._by_client[client]

    async def hash(self, password: str, client: str = "") -> str:
        return await self._run(lambda: self._hasher.hash(password), client)

    async def verify(self, password_hash: str | None, password: str, client: str = "") -> bool:
        """Whether ``password`` matches. An unknown account (``password_hash`` None) is
        answered after as long as a real check takes, without spending a hash on it: a
        flood of made-up emails costs no CPU."""
        if password_hash is None:
            await asyncio.sleep(await self._typical_check_s())
            return False

        def check() -> bool:
            started = time.perf_counter()
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False
            finally:
                self._check_s = time.perf_counter() - started

        return await self._run(check, client)

    async def _typical_check_s(self) -> float:
        async with self._measuring:  # measured once, on a throwaway hash
            if self._check_s is None:
                decoy = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
                started = time.perf_counter()
                with contextlib.suppress(VerificationError):
                    await asyncio.to_thread(self._hasher.verify, decoy, "not it")
                self._check_s = time.perf_counter() - started
            return self._check_s
