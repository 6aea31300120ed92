"""Attempts per key (a client address, an account) in a sliding window, in process memory
(where several processes serve, in Redis: :mod:`clinic.bus.limits`).

`take` counts an attempt before the caller awaits anything, so concurrent requests cannot
all pass the check before the first is counted. Rules that count only failures hand back
the attempts that succeeded. A key refused once may be locked out for a time that doubles
with each lockout.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from clinic.errors import RateLimitedError


@dataclass(frozen=True, slots=True)
class Rule:
    limit: int
    window_s: float
    # 0: no lockout, a key is free again as its attempts age out of the window
    lockout_s: float = 0.0
    max_lockout_s: float = 3600.0


@dataclass(slots=True)
class _Key:
    attempts: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0
    last_lockout: float = 0.0


class Attempt:
    """One counted attempt; `succeeded()` takes it back where only failures count."""

    def __init__(self, forgive: Callable[[], None]) -> None:
        self._forgive = forgive

    def succeeded(self) -> None:
        self._forgive()


class Counter(Protocol):
    rule: Rule

    async def take(self, key: str) -> Attempt:
        """Count one attempt for ``key``, or RateLimitedError with how long to wait."""


class Limiter:
    def __init__(
        self,
        rule: Rule,
        what: str,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rule = rule
        self._what = what  # for the error: "too many failed logins"
        self._clock = clock
        self._max_keys = max_keys
        self._keys: dict[str, _Key] = {}

    async def take(self, key: str) -> Attempt:
        """Count one attempt for ``key``, or RateLimitedError with how long to wait."""
        now = self._clock()
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self._max_keys:
                self._prune(now)
            if len(self._keys) >= self._max_keys:  # a flood of distinct keys: refuse all new
                raise RateLimitedError(f"{self._what}; try later", self.rule.window_s)
            state = self._keys[key] = _Key()
        if state.locked_until > now:
            raise RateLimitedError(f"{self._what}; try later", state.locked_until - now)
        self._age(state, now)
        if len(state.attempts) >= self.rule.limit:
            raise RateLimitedError(f"{self._what}; try later", self._refuse(state, now))
        state.attempts.append(now)
        return Attempt(lambda: self._forgive(key, now))

    def _refuse(self, state: _Key, now: float) -> float:
        rule = self.rule
        if rule.lockout_s <= 0:
            return state.attempts[0] + rule.window_s - now
        if now - state.last_lockout > rule.max_lockout_s:
            state.lockouts = 0  # quiet for long enough: start again from the first lockout
        lockout: float = min(rule.lockout_s * 2.0**state.lockouts, rule.max_lockout_s)
        state.lockouts += 1
        state.last_lockout, state.locked_until = now, now + lockout
        state.attempts.clear()
        return lockout

    def _forgive(self, key: str, at: float) -> None:
        state = self._keys.get(key)
        if state is None:
            return
        with contextlib.suppress(ValueError):
            state.attempts.remove(at)
        state.lockouts = 0

    def _age(self, state: _Key, now: float) -> None:
        cutoff = now - self.rule.window_s
        while state.attempts and state.attempts[0] <= cutoff:
            state.attempts.popleft()

    def _prune(self, now: float) -> None:
        for key, state in list(self._keys.items()):
            self._age(state, now)
            idle = now - state.last_lockout > self.rule.max_lockout_s
            if not state.attempts and state.locked_until <= now and (idle or not state.lockouts):
                del self._keys[key]


def address_key(remote: str | None) -> str:
    """A client's address as a limit key: IPv6 by its /64, which one subscriber holds."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


KNOWN_ADDRESSES = 4
KNOWN_ACCOUNTS = 100_000


class KnownAddresses(Protocol):
    """Where each account last logged in from (a few addresses)."""

    async def of(self, account: str) -> Collection[str]: ...

    async def add(self, account: str, address: str) -> None: ...


class RecentAddresses:
    """In process memory: the last KNOWN_ADDRESSES of the last KNOWN_ACCOUNTS accounts."""

    def __init__(self) -> None:
        self._known: dict[str, deque[str]] = {}

    async def of(self, account: str) -> Collection[str]:
        return self._known.get(account, ())

    async def add(self, account: str, address: str) -> None:
        addresses = self._known.pop(account, None) or deque(maxlen=KNOWN_ADDRESSES)
        if address not in addresses:
            addresses.append(address)
        self._known[account] = addresses  # most recent last: the oldest go first
        while len(self._known) > KNOWN_ACCOUNTS:
            del self._known[next(iter(self._known))]


# what each limit allows (README, "Security"), and what a refused client is told
ENROLL = (Rule(5, 60), "too many failed enrollment attempts")
LOGIN_ADDRESS = (Rule(20, 600, lockout_s=300), "too many failed logins from this address")
LOGIN_ACCOUNT = (Rule(5, 900, lockout_s=60), "too many failed logins for this account")
ENTER = (Rule(10, 60), "too many patients from this address")
GUEST = (Rule(10, 60), "too many bad guest links")


@dataclass(slots=True)
class Limits:
    """Every limit of the clinic service's public doors (README, "Security")."""

    # failed enrollments per address: exactly 5 a minute (PROTOCOL.md section 1)
    enroll: Counter = field(default_factory=lambda: Limiter(*ENROLL))
    # failed logins per address, then per account, each with a lockout that doubles
    login_address: Counter = field(default_factory=lambda: Limiter(*LOGIN_ADDRESS))
    login_account: Counter = field(default_factory=lambda: Limiter(*LOGIN_ACCOUNT))
    # where an account logged in lately it keeps a count of its own, so guessing its
    # password from elsewhere does not lock it out there
    known: KnownAddresses = field(default_factory=RecentAddresses)
    # patients entering the waiting area, per address (every entry counts)
    enter: Counter = field(default_factory=lambda: Limiter(*ENTER))
    # failed guest-link redemptions per address
    guest: Counter = field(default_factory=lambda: Limiter(*GUEST))

    async def login_account_key(self, email: str, client: str) -> str:
        account = email.lower()
        return f"{account} {client}" if client in await self.known.of(account) else account

    async def logged_in(self, email: str, client: str) -> None:
        await self.known.add(email.lower(), client)
