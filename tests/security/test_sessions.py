"""Logging out ends the login token, and nobody chooses the name the room sees."""

from __future__ import annotations

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.security.conftest import join


async def test_logging_out_ends_the_login_token_at_once(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    token = await clinic_server.login(clinic.member)
    rooms = f"/clinics/{clinic.clinic_id}/rooms"
    await clinic_server.ok("GET", rooms, token)
    assert await clinic_server.ok("POST", "/auth/logout", token) == {"logged_out": True}
    status, body = await clinic_server.call("GET", rooms, token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    status, _ = await clinic_server.call("POST", "/auth/logout", token)
    assert status == 401
    # another login of the same member is untouched
    await clinic_server.ok("GET", rooms, clinic.other_member.token)


async def test_a_member_cannot_join_under_another_name(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    path = f"/rooms/{clinic.meeting_room}/join-token"
    first = await clinic_server.ok("POST", path, clinic.other_member.token)
    impostor = await clinic_server.ok("POST", path, clinic.member.token)
    ws1, _, s1 = await join(clinic_server, first["token"])
    ws2, joined, s2 = await join(clinic_server, impostor["token"], name="Dr Admin")
    try:
        assert joined["type"] == "joined"
        announced = (await ws1.receive_json(timeout=5))["peer"]
        assert announced["name"] == "Member"  # the name the clinic knows, from the token
        assert [p["name"] for p in joined["peers"]] == ["Other"]
    finally:
        for ws, session in ((ws1, s1), (ws2, s2)):
            await ws.close()
            await session.close()
