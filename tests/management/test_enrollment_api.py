"""Enrollment from the clinic's side: codes, single use, expiry, rate limit."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from clinic.storage import devices
from tests.clinic_server import ClinicFixture, ClinicServer


@pytest.fixture
def clinic_server(clinic_server_any: ClinicServer) -> ClinicServer:
    """Every test here runs on SQLite and on PostgreSQL (tests/postgres.py)."""
    return clinic_server_any


async def new_device(server: ClinicServer, clinic: ClinicFixture, name: str = "Exam 2") -> dict:
    return await server.ok(
        "POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token, {"name": name}
    )


HARDWARE = {"model": "Raspberry Pi 4", "serial": "abc", "software_version": "0.1.0"}


async def test_a_code_enrolls_once(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    created = await new_device(clinic_server, clinic)
    code = created["enrollment_code"]
    assert len(code) == 16
    assert code.isdigit()
    assert created["expires_at"].endswith("Z")
    body = {"enrollment_code": code, "hardware": HARDWARE}
    enrolled = await clinic_server.ok("POST", "/enroll", body=body)
    assert enrolled["device_id"] == created["device_id"]
    assert enrolled["clinic_id"] == clinic.clinic_id
    assert len(enrolled["device_token"]) >= 43  # 256 bits, URL-safe base64
    assert enrolled["config"]["name"] == "Exam 2"
    status, again = await clinic_server.call("POST", "/enroll", body=body)
    assert (status, again["error"]["code"]) == (401, "invalid_code")
    # the code is stored only as a hash
    async with clinic_server.storage._engine.connect() as conn:
        stored = (await conn.execute(sa.select(devices))).mappings().all()
    assert all(code not in str(dict(row)) for row in stored)


async def test_wrong_used_and_expired_codes_get_one_answer(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    created = await new_device(clinic_server, clinic)
    async with clinic_server.storage._engine.begin() as conn:
        await conn.execute(
            devices.update()
            .where(devices.c.id == created["device_id"])
            .values(code_expires_at=time.time() - 1)
        )
    answers = set()
    for code in ("0000000000000000", created["enrollment_code"]):
        status, data = await clinic_server.call(
            "POST", "/enroll", body={"enrollment_code": code, "hardware": HARDWARE}
        )
        answers.add((status, data["error"]["code"], data["error"]["message"]))
    assert answers == {(401, "invalid_code", "the enrollment code is wrong, used or expired")}


async def test_the_sixth_failure_in_a_minute_is_rate_limited(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    body = {"enrollment_code": "1234567812345678", "hardware": HARDWARE}
    for _ in range(5):
        status, data = await clinic_server.call("POST", "/enroll", body=body)
        assert (status, data["error"]["code"]) == (401, "invalid_code")
    status, data = await clinic_server.call("POST", "/enroll", body=body)
    assert (status, data["error"]["code"]) == (429, "rate_limited")
    # even a right code waits out the minute
    created = await new_device(clinic_server, clinic)
    right = {"enrollment_code": created["enrollment_code"], "hardware": HARDWARE}
    assert (await clinic_server.call("POST", "/enroll", body=right))[0] == 429


async def test_only_the_clinics_admin_manages_devices(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    path = f"/clinics/{clinic.clinic_id}/devices"
    for token in (clinic.member.token, None):
        status, _ = await clinic_server.call("POST", path, token, {"name": "x"})
        assert status in (401, 403)
    other = await clinic_server.make_clinic("Other")
    status, data = await clinic_server.call("GET", path, other.admin.token)
    assert (status, data["error"]["code"]) == (403, "forbidden")


async def test_config_is_validated_with_every_problem(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    created = await new_device(clinic_server, clinic)
    other = await clinic_server.make_clinic("Other")
    path = f"/devices/{created['device_id']}/config"
    bad = {
        "name": "",
        "buttons": {"1": {"action": "join"}, "x": {"action": "leave"}, "3": {"action": "fly"}},
        "video": {"fps": 90, "codec": "AV1"},
    }
    status, data = await clinic_server.call("PUT", path, clinic.admin.token, bad)
    assert (status, data["error"]["code"]) == (422, "invalid")
    message = data["error"]["message"]
    for expected in (
        "name",
        "buttons.1",
        "buttons",
        "buttons.3.action",
        "video.fps",
        "video.codec",
    ):
        assert expected in message
    foreign = {
        "name": "Exam 2",
        "buttons": {
            "1": {"action": "join", "room_id": other.meeting_room},
            "2": {"action": "join", "room_id": clinic.waiting_area},
            "3": {"action": "join", "room_id": clinic.meeting_room},
        },
    }
    status, data = await clinic_server.call("PUT", path, clinic.admin.token, foreign)
    assert status == 422
    assert "buttons.1.room_id" in data["error"]["message"]
    assert "buttons.2.room_id" in data["error"]["message"]
    assert "buttons.3" not in data["error"]["message"]
    upside_down = {"name": "Exam 2", "video": {"min_bitrate_kbps": 2000}}
    status, data = await clinic_server.call("PUT", path, clinic.admin.token, upside_down)
    assert status == 422
    assert "min_bitrate_kbps (2000) is above max_bitrate_kbps (1500)" in data["error"]["message"]
    good = {**foreign, "buttons": {"3": foreign["buttons"]["3"]}}  # type: ignore[index]
    assert (await clinic_server.ok("PUT", path, clinic.admin.token, good))["config_version"] == 2


async def test_a_device_never_enrolled_gets_a_new_code_and_the_old_one_stops(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    created = await new_device(clinic_server, clinic)
    path = f"/devices/{created['device_id']}/enrollment-code"
    status, _ = await clinic_server.call("POST", path, clinic.member.token)
    assert status == 403  # the clinic's admin only
    renewed = await clinic_server.ok("POST", path, clinic.admin.token)
    assert renewed["enrollment_code"] != created["enrollment_code"]
    old = {"enrollment_code": created["enrollment_code"], "hardware": HARDWARE}
    status, _ = await clinic_server.call("POST", "/enroll", body=old)
    assert status == 401
    new = {"enrollment_code": renewed["enrollment_code"], "hardware": HARDWARE}
    assert (await clinic_server.ok("POST", "/enroll", body=new))["device_id"] == created[
        "device_id"
    ]
    status, answer = await clinic_server.call("POST", path, clinic.admin.token)
    assert (status, answer["error"]["code"]) == (409, "conflict")  # enrolled: no code
