"""The rate limits hold over all the processes of a clinic service: guesses spread over
them (as a load balancer spreads them) get no more tries than against one."""

from __future__ import annotations

from typing import Any

from clinic.ratelimit import LOGIN_ACCOUNT, LOGIN_ADDRESS
from tests.scale.conftest import Scaled, ScaledFactory

PROXIED = ("--trusted-proxy", "127.0.0.1")


async def login_from(scaled: Scaled, i: int, address: str, body: dict[str, Any]) -> int:
    """A login through process i, from ``address`` as the trusted proxy names it."""
    url = scaled.processes[i].url + "/api/v1/auth/login"
    async with scaled.session.post(url, json=body, headers={"X-Forwarded-For": address}) as r:
        return r.status


async def test_failed_logins_from_one_address_count_over_every_process(
    scaled: ScaledFactory,
) -> None:
    cluster = await scaled(2, PROXIED)
    limit = LOGIN_ADDRESS[0].limit
    for n in range(limit):  # distinct accounts: only the address's count grows
        body = {"email": f"guess{n}@example.org", "password": "wrong password"}
        assert await login_from(cluster, n % 2, "203.0.113.7", body) == 401
    body = {"email": "guess@example.org", "password": "wrong password"}
    assert await login_from(cluster, 0, "203.0.113.7", body) == 429
    assert await login_from(cluster, 1, "203.0.113.7", body) == 429
    assert await login_from(cluster, 1, "203.0.113.8", body) == 401  # others are not


async def test_a_locked_account_is_locked_everywhere_but_at_its_own_desk(
    scaled: ScaledFactory,
) -> None:
    cluster = await scaled(2, PROXIED)
    member = cluster.clinic.member
    right = {"email": member.email, "password": member.password}
    wrong = {**right, "password": "wrong password"}
    assert await login_from(cluster, 0, "198.51.100.4", right) == 200  # the usual desk
    for n in range(LOGIN_ACCOUNT[0].limit):
        assert await login_from(cluster, n % 2, f"203.0.113.{n + 1}", wrong) == 401
    for i in (0, 1):
        assert await login_from(cluster, i, "203.0.113.50", right) == 429
    # its desk logged in through process 0; process 1 knows it too
    assert await login_from(cluster, 1, "198.51.100.4", right) == 200
