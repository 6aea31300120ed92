"""Guessing and flooding the public doors: every limit holds under concurrency, answers
429 with Retry-After, and counts client addresses (here through a trusted proxy)."""

from __future__ import annotations

import asyncio
import json

import pytest

from clinic.auth import PER_CLIENT, Passwords
from clinic.errors import RateLimitedError
from clinic.ratelimit import Limiter, Limits, Rule
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.security.conftest import call_from

HARDWARE = {"model": "Raspberry Pi 4", "serial": "abc", "software_version": "0.1.0"}


async def test_300_concurrent_enrollment_guesses_get_exactly_5_tries(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    body = {"enrollment_code": "1234-5678-9012-3456", "hardware": HARDWARE}
    answers = await asyncio.gather(
        *(clinic_server.call("POST", "/enroll", body=body) for _ in range(300))
    )
    statuses = [status for status, _ in answers]
    assert statuses.count(401) == 5
    assert statuses.count(429) == 295


async def test_a_login_flood_from_one_address_is_refused_with_retry_after(
    proxied_server: ClinicServer,
) -> None:
    clinic = await proxied_server.make_clinic()
    wrong = {"email": clinic.member.email, "password": "wrong password"}
    answers = await asyncio.gather(
        *(call_from(proxied_server, "203.0.113.7", "POST", "/auth/login",
                    {**wrong, "email": f"guess{i}@example.org"}) for i in range(100))
    )  # fmt: skip
    statuses = [status for status, _, _ in answers]
    limit = Limits().login_address.rule.limit
    assert statuses.count(401) == limit  # only these were hashed
    refused = [headers for status, _, headers in answers if status == 429]
    assert len(refused) == 100 - limit
    assert all(int(h["Retry-After"]) >= 1 for h in refused)
    # the right password from that address waits too; from elsewhere it works
    right = {"email": clinic.member.email, "password": clinic.member.password}
    status, _, _ = await call_from(proxied_server, "203.0.113.7", "POST", "/auth/login", right)
    assert status == 429
    status, _, _ = await call_from(proxied_server, "198.51.100.1", "POST", "/auth/login", right)
    assert status == 200


async def test_guessing_one_accounts_password_from_many_addresses_locks_the_account(
    proxied_server: ClinicServer,
) -> None:
    clinic = await proxied_server.make_clinic()
    wrong = {"email": clinic.member.email, "password": "wrong password"}
    limit = Limits().login_account.rule.limit
    for i in range(limit):
        status, _, _ = await call_from(
            proxied_server, f"203.0.113.{i}", "POST", "/auth/login", wrong
        )
        assert status == 401
    status, body, headers = await call_from(
        proxied_server, "203.0.113.99", "POST", "/auth/login", wrong
    )
    assert status == 429
    assert body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 60
    # another account is not locked
    other = {"email": clinic.other_member.email, "password": clinic.other_member.password}
    status, _, _ = await call_from(proxied_server, "203.0.113.99", "POST", "/auth/login", other)
    assert status == 200


async def test_a_locked_account_still_logs_in_where_it_logged_in_before(
    proxied_server: ClinicServer,
) -> None:
    """An attacker who knows a clinician's email cannot lock them out of their own desk."""
    clinic = await proxied_server.make_clinic()
    right = {"email": clinic.member.email, "password": clinic.member.password}
    wrong = {"email": clinic.member.email, "password": "wrong password"}
    status, _, _ = await call_from(proxied_server, "198.51.100.4", "POST", "/auth/login", right)
    assert status == 200  # the clinician's usual address
    for _ in range(Limits().login_account.rule.limit + 3):
        await call_from(proxied_server, "203.0.113.9", "POST", "/auth/login", wrong)
    status, _, _ = await call_from(proxied_server, "203.0.113.10", "POST", "/auth/login", right)
    assert status == 429  # locked for everyone else
    status, _, _ = await call_from(proxied_server, "198.51.100.4", "POST", "/auth/login", right)
    assert status == 200


async def test_a_lockout_doubles_each_time_and_a_success_resets_it() -> None:
    now = [0.0]
    limiter = Limiter(Rule(2, 60, lockout_s=60), "too many", clock=lambda: now[0])
    waits = []
    for _ in range(3):
        await limiter.take("k")
        await limiter.take("k")
        with pytest.raises(RateLimitedError) as refused:
            await limiter.take("k")
        waits.append(refused.value.retry_after_s)
        now[0] += refused.value.retry_after_s
    assert waits == [60, 120, 240]
    (await limiter.take("k")).succeeded()
    await limiter.take("k")
    await limiter.take("k")
    with pytest.raises(RateLimitedError) as refused:
        await limiter.take("k")
    assert refused.value.retry_after_s == 60


async def test_anonymous_waiting_area_entries_are_limited_per_address(
    proxied_server: ClinicServer,
) -> None:
    clinic = await proxied_server.make_clinic()
    path = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    limit = Limits().enter.rule.limit
    answers = await asyncio.gather(
        *(call_from(proxied_server, "203.0.113.5", "POST", path, {"name": f"Fake {i}"})
          for i in range(300))
    )  # fmt: skip
    assert [status for status, _, _ in answers].count(201) == limit
    waiting = await proxied_server.ok(
        "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
    )
    assert len(waiting) == limit
    status, _, _ = await call_from(proxied_server, "198.51.100.2", "POST", path, {"name": "Real"})
    assert status == 201


async def test_guessing_guest_links_is_limited_per_address(proxied_server: ClinicServer) -> None:
    await proxied_server.make_clinic()
    limit = Limits().guest.rule.limit
    answers = await asyncio.gather(
        *(call_from(proxied_server, "203.0.113.6", "POST", "/guest/join-token",
                    {"guest_token": f"guess-{i}", "name": "G"}) for i in range(50))
    )  # fmt: skip
    statuses = [status for status, _, _ in answers]
    assert statuses.count(401) == limit
    assert statuses.count(429) == 50 - limit


async def test_a_login_flood_from_many_addresses_neither_stalls_signalling_nor_locks_out(
    proxied_server: ClinicServer,
) -> None:
    """1000 addresses, one made-up email each: no per-address or per-account limit applies,
    yet no hash is spent on an unknown account, a signalling client is still answered and
    the member logs in."""
    clinic = await proxied_server.make_clinic()
    ws = await proxied_server.session.ws_connect(proxied_server.signal_url)
    try:
        flood = asyncio.gather(
            *(call_from(proxied_server, f"10.{i // 250}.{i % 250}.1", "POST", "/auth/login",
                        {"email": f"nobody{i}@example.org", "password": f"guess {i}"})
              for i in range(1000))
        )  # fmt: skip
        await asyncio.sleep(0.2)
        await ws.send_str(json.dumps({"type": "ping"}))
        assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong"}
        right = {"email": clinic.member.email, "password": clinic.member.password}
        status, _, _ = await call_from(proxied_server, "198.51.100.3", "POST", "/auth/login", right)
        assert status == 200
        assert {status for status, _, _ in await flood} == {401}
    finally:
        await ws.close()


async def test_one_address_checks_two_passwords_at_a_time(proxied_server: ClinicServer) -> None:
    clinic = await proxied_server.make_clinic()
    wrong = {"email": clinic.member.email, "password": "wrong password"}
    answers = await asyncio.gather(
        *(call_from(proxied_server, "203.0.113.8", "POST", "/auth/login", wrong) for _ in range(5))
    )
    at_once = [body for status, body, _ in answers if status == 429]
    assert [status for status, _, _ in answers].count(401) == PER_CLIENT
    assert len(at_once) == 5 - PER_CLIENT
    assert all("at once" in body["error"]["message"] for body in at_once)


async def test_what_cannot_wait_for_a_password_check_is_refused_at_once() -> None:
    passwords = Passwords(hashing=1, queue=2)
    stored = await passwords.hash("the right one")
    answers = await asyncio.gather(
        *(passwords.verify(stored, "wrong", client=f"c{i}") for i in range(6)),
        return_exceptions=True,
    )
    assert answers.count(False) == 2
    busy = [a for a in answers if isinstance(a, RateLimitedError)]
    assert len(busy) == 4
    assert "busy" in str(busy[0])
