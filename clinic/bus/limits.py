"""The rate limits of :mod:`clinic.ratelimit`, shared by every process through Redis: the
same rules (a sliding window, a lockout that doubles), each attempt counted by one Lua
script, so that an attacker spreading guesses over the processes behind a load balancer
gets no more than from one. Times are the processes' wall clocks (one machine, or NTP)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection

from clinic.bus.core import PREFIX, Bus, strings
from clinic.errors import RateLimitedError
from clinic.ratelimit import (
    ENROLL,
    ENTER,
    GUEST,
    KNOWN_ADDRESSES,
    LOGIN_ACCOUNT,
    LOGIN_ADDRESS,
    Attempt,
    Limits,
    Rule,
)

# KEYS: the key's attempts (a sorted set), its lockout (a hash); ARGV: now, limit,
# window, lockout, max lockout, this attempt's member. {"ok"} or {"refused", seconds}.
_TAKE = """
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lockout, max_lockout = tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[2], 'until', 'lockouts', 'last')
local locked_until = tonumber(state[1]) or 0
if locked_until > now then return {'refused', tostring(locked_until - now)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  if lockout <= 0 then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {'refused', tostring(tonumber(first[2]) + window - now)}
  end
  local lockouts = tonumber(state[2]) or 0
  if now - (tonumber(state[3]) or 0) > max_lockout then lockouts = 0 end
  local wait = math.min(lockout * 2 ^ lockouts, max_lockout)
  redis.call('HSET', KEYS[2], 'until', now + wait, 'lockouts', lockouts + 1, 'last', now)
  redis.call('EXPIRE', KEYS[2], math.ceil(wait + max_lockout))
  redis.call('DEL', KEYS[1])
  return {'refused', tostring(wait)}
end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return {'ok'}
"""

# KEYS: attempts, lockout; ARGV: the attempt's member
_FORGIVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'lockouts', 0) end
"""


class SharedLimiter:
    def __init__(self, bus: Bus, rule: Rule, what: str) -> None:
        self.rule = rule
        self._bus = bus
        self._what = what
        self._prefix = f"{PREFIX}limit:{what.replace(' ', '-')}:"
        self._take = bus.redis.register_script(_TAKE)
        self._forgive = bus.redis.register_script(_FORGIVE)

    async def take(self, key: str) -> Attempt:
        keys = [self._prefix + key, self._prefix + key + ":lockout"]
        member = f"{time.time()}:{secrets.token_hex(4)}"
        r = self.rule
        args: list[str | float] = [
            time.time(),
            r.limit,
            r.window_s,
            r.lockout_s,
            r.max_lockout_s,
            member,
        ]
        answer = await self._take(keys=keys, args=args)
        if answer[0] != "ok":
            raise RateLimitedError(f"{self._what}; try later", float(answer[1]))
        return Attempt(lambda: self._bus.later(lambda: self._forgive(keys=keys, args=[member])))


class SharedAddresses:
    """Where each account last logged in from, in one Redis list per account."""

    def __init__(self, bus: Bus, ttl_s: int = 90 * 24 * 3600) -> None:
        self._redis = bus.redis
        self._ttl_s = ttl_s

    async def of(self, account: str) -> Collection[str]:
        return strings(await self._redis.lrange(f"{PREFIX}known:{account}", 0, -1))

    async def add(self, account: str, address: str) -> None:
        key = f"{PREFIX}known:{account}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, address)
            pipe.rpush(key, address)  # most recent last: the oldest go first
            pipe.ltrim(key, -KNOWN_ADDRESSES, -1)
            pipe.expire(key, self._ttl_s)
            await pipe.execute()


def shared_limits(bus: Bus) -> Limits:
    return Limits(
        enroll=SharedLimiter(bus, *ENROLL),
        login_address=SharedLimiter(bus, *LOGIN_ADDRESS),
        login_account=SharedLimiter(bus, *LOGIN_ACCOUNT),
        known=SharedAddresses(bus),
        enter=SharedLimiter(bus, *ENTER),
        guest=SharedLimiter(bus, *GUEST),
    )
