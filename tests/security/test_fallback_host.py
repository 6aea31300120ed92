"""A box acting as LAN fallback host: only its own clinic's devices and clinicians may
join (patients and guests never come over the clinic LAN), and idle sockets are bounded."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.management.fallback import signal_url
from kiosk.signalling import tokens
from kiosk.signalling.fallback_server import FallbackServer
from kiosk.signalling.fallback_tokens import FallbackAuthenticator
from kiosk.signalling.hub import FALLBACK_SOCKET_LIMITS
from kiosk.signalling.messages import Role
from tests.clinic_server import free_port
from tests.security.conftest import join

CLINIC, ROOM = "cl_1", "rm_1"
CLINIC_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
async def host() -> AsyncIterator[str]:
    server = FallbackServer(
        FallbackAuthenticator(CLINIC, CLINIC_KEY.public_key()), "127.0.0.1", free_port()
    )
    await server.start()
    try:
        yield signal_url("127.0.0.1", server.port)
    finally:
        await server.stop()


def clinic_token(role: Role, subject: str = "someone") -> str:
    """A join token the clinic really signed (a patient's comes from an anonymous enter)."""
    return tokens.sign(
        CLINIC_KEY, subject=subject, name="Someone", role=role, clinic_id=CLINIC, room_id=ROOM
    )[0]


@pytest.mark.parametrize("role", [Role.PATIENT, Role.GUEST])
async def test_patient_and_guest_tokens_are_refused_on_the_lan(host: str, role: Role) -> None:
    ws, answer, session = await join(host, clinic_token(role))
    try:
        assert answer["type"] == "error"
        assert answer["code"] == "unauthorized"
        assert f"a {role.value} cannot join" in answer["message"]
        assert (await ws.receive(timeout=5)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        assert ws.close_code == 4401
    finally:
        await ws.close()
        await session.close()


async def test_a_clinician_of_the_clinic_joins_on_the_lan(host: str) -> None:
    ws, answer, session = await join(host, clinic_token(Role.CLINICIAN, "mb_1"))
    try:
        assert answer["type"] == "joined"
    finally:
        await ws.close()
        await session.close()


async def test_idle_sockets_from_one_address_are_bounded(host: str) -> None:
    """2000 idle sockets were accepted by a host; now a handful per address."""
    limits = FALLBACK_SOCKET_LIMITS
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        for _ in range(limits.unjoined_per_address):
            await stack.enter_async_context(session.ws_connect(host))
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(host)
        assert refused.value.status == 429


async def test_joined_sockets_from_one_address_are_bounded(host: str) -> None:
    limits = FALLBACK_SOCKET_LIMITS
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        for i in range(limits.per_address):
            ws = await stack.enter_async_context(session.ws_connect(host))
            token = tokens.sign(
                CLINIC_KEY, subject=f"mb_{i}", name="Dr", role=Role.CLINICIAN,
                clinic_id=CLINIC, room_id=f"rm_{i}",
            )[0]  # fmt: skip
            await ws.send_str(json.dumps({"type": "join", "token": token}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "joined"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(host)
        assert refused.value.status == 429
