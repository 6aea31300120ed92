"""Nobody joins on a fallback host without a credential the clinic issued (checked offline)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.management.fallback import signal_url
from kiosk.signalling import tokens
from kiosk.signalling.fallback_server import FallbackServer
from kiosk.signalling.fallback_tokens import (
    FallbackAuthenticator,
    issue_credential,
    local_join_token,
)
from kiosk.signalling.messages import Role
from tests.fallback.conftest import free_port

CLINIC, ROOM, OTHER_ROOM, DEVICE = "cl_1", "rm_meeting", "rm_other", "dv_1"


class Keys:
    clinic = Ed25519PrivateKey.generate()
    device = Ed25519PrivateKey.generate()

    @classmethod
    def credential(cls, clinic: Ed25519PrivateKey | None = None, **overrides: Any) -> str:
        args: dict[str, Any] = {
            "device_id": DEVICE, "name": "Exam 1", "clinic_id": CLINIC, "rooms": [ROOM],
            "device_public_key_pem": tokens.public_key_pem(cls.device.public_key()),
        } | overrides  # fmt: skip
        return issue_credential(clinic or cls.clinic, **args)[0]

    @classmethod
    def local(cls, credential: str, room: str = ROOM, **overrides: Any) -> str:
        args: dict[str, Any] = {"device_id": DEVICE, "room_id": room, "name": "Exam 1"}
        key = overrides.pop("key", cls.device)
        return local_join_token(key, credential, **(args | overrides))


@pytest.fixture
async def host() -> AsyncIterator[str]:
    server = FallbackServer(
        FallbackAuthenticator(CLINIC, Keys.clinic.public_key()), "127.0.0.1", free_port()
    )
    await server.start()
    yield signal_url("127.0.0.1", server.port)
    await server.stop()


async def join(url: str, token: str) -> tuple[dict[str, Any], bool]:
    """The hub's answer to a join, and whether it closed the socket afterwards."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "join", "token": token, "name": "x"}))
        answer = json.loads((await ws.receive(timeout=5)).data)
        try:
            after = await ws.receive(timeout=1)
        except TimeoutError:
            return answer, False
        return answer, after.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_device_with_its_credential_joins(host: str) -> None:
    answer, _ = await join(host, Keys.local(Keys.credential()))
    assert answer["type"] == "joined"
    assert answer["room_id"] == ROOM
    assert answer["ice_servers"] == []  # host candidates only on the LAN: no gathering stall


async def test_a_valid_clinic_join_token_is_accepted(host: str) -> None:
    token, _ = tokens.sign(Keys.clinic, subject="mb_1", name="Dr A", role=Role.CLINICIAN,
                           clinic_id=CLINIC, room_id=ROOM)  # fmt: skip
    answer, _ = await join(host, token)
    assert answer["type"] == "joined"


rogues: dict[str, Callable[[], str]] = {
    "no credential at all": lambda: "not-a-token",
    "a credential the clinic never signed": lambda: Keys.local(
        Keys.credential(clinic=Ed25519PrivateKey.generate())
    ),
    "an expired credential": lambda: Keys.local(Keys.credential(now=time.time() - 8 * 24 * 3600)),
    "somebody else's credential": lambda: Keys.local(
        Keys.credential(), key=Ed25519PrivateKey.generate()
    ),
    "a credential of another clinic": lambda: Keys.local(Keys.credential(clinic_id="cl_2")),
    "an expired local token": lambda: Keys.local(Keys.credential(), now=time.time() - 600),
    "a clinic token of another clinic": lambda: tokens.sign(
        Keys.clinic,
        subject="mb_1",
        name="Dr A",
        role=Role.CLINICIAN,
        clinic_id="cl_2",
        room_id=ROOM,
    )[0],
    "an expired clinic token": lambda: tokens.sign(
        Keys.clinic,
        subject="mb_1",
        name="Dr A",
        role=Role.CLINICIAN,
        clinic_id=CLINIC,
        room_id=ROOM,
        now=time.time() - 3600,
    )[0],
}


@pytest.mark.parametrize("case", list(rogues))
async def test_a_rogue_client_is_unauthorized(host: str, case: str) -> None:
    answer, closed = await join(host, rogues[case]())
    assert answer["type"] == "error"
    assert answer["code"] == "unauthorized", answer
    assert closed


async def test_a_room_the_credential_does_not_name_is_forbidden(host: str) -> None:
    answer, closed = await join(host, Keys.local(Keys.credential(), room=OTHER_ROOM))
    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    assert "does not name room" in answer["message"]
    assert not closed


async def test_a_device_the_clinic_revoked_is_refused_offline() -> None:
    authenticate = FallbackAuthenticator(CLINIC, Keys.clinic.public_key(), frozenset({DEVICE}))
    server = FallbackServer(authenticate, "127.0.0.1", free_port())
    await server.start()
    try:
        answer, closed = await join(signal_url("127.0.0.1", server.port),
                                    Keys.local(Keys.credential()))  # fmt: skip
    finally:
        await server.stop()
    assert (answer["type"], answer["code"]) == ("error", "unauthorized")
    assert "revoked" in answer["message"]
    assert closed
