"""A revoked device keeps nothing: the join token it fetched before the revoke is refused
at join, and its live session is closed."""

from __future__ import annotations

import aiohttp

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.security.conftest import join

HARDWARE = {"model": "Raspberry Pi 4", "serial": "abc", "software_version": "0.1.0"}


async def enrolled_device(server: ClinicServer, clinic: ClinicFixture) -> tuple[str, str]:
    """(device_id, device_token) of a device whose buttons name the meeting room."""
    admin = clinic.admin.token
    created = await server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", admin, {"name": "Exam 1"}
    )
    await server.ok("PUT", f"/devices/{created['device_id']}/config", admin, {
        "name": "Exam 1",
        "buttons": {"1": {"action": "join", "room_id": clinic.meeting_room}},
    })  # fmt: skip
    enrolled = await server.ok("POST", "/enroll", body={
        "enrollment_code": created["enrollment_code"], "hardware": HARDWARE,
    })  # fmt: skip
    return created["device_id"], enrolled["device_token"]


async def test_a_revoked_devices_join_tokens_are_refused_and_its_session_closed(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    device_id, device_token = await enrolled_device(clinic_server, clinic)
    path = f"/rooms/{clinic.meeting_room}/join-token"
    live_grant = await clinic_server.ok("POST", path, device_token)
    kept_grant = await clinic_server.ok("POST", path, device_token)  # for after the revoke
    live, joined, s1 = await join(clinic_server, live_grant["token"])
    assert joined["type"] == "joined"
    try:
        await clinic_server.ok("DELETE", f"/devices/{device_id}", clinic.admin.token)
        assert (await live.receive(timeout=5)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        late, refused, s2 = await join(clinic_server, kept_grant["token"])
        try:
            assert refused["type"] == "error"
            assert refused["code"] == "unauthorized"
            assert "revoked" in refused["message"]
        finally:
            await late.close()
            await s2.close()
    finally:
        await live.close()
        await s1.close()
