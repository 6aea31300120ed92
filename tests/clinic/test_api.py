"""Every endpoint of PROTOCOL.md section 1 (rooms, members, tokens, guest links, waiting
area), with every error code, against the real service over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clinic.auth import secret_hash
from clinic.web import KEYS
from kiosk.signalling import tokens
from kiosk.signalling.messages import Role
from tests.clinic_server import ClinicFixture, ClinicServer


@pytest.fixture
def clinic_server(clinic_server_any: ClinicServer) -> ClinicServer:
    """Every test here runs on SQLite and on PostgreSQL (tests/postgres.py)."""
    return clinic_server_any


async def fails(
    server: ClinicServer,
    method: str,
    path: str,
    status: int,
    code: str,
    token: str | None = None,
    body: Any = None,
) -> str:
    got, data = await server.call(method, path, token, body)
    assert (got, data["error"]["code"]) == (status, code), data
    assert data["error"]["message"]
    return str(data["error"]["message"])


async def verified(server: ClinicServer, clinic_id: str, token: str) -> tokens.JoinClaims:
    key = await server.app[KEYS].public_key_pem(clinic_id)
    return tokens.verify(token, tokens.load_public_key(key))


# ---- login -----------------------------------------------------------------------------


async def test_login(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    data = await clinic_server.ok(
        "POST", "/auth/login", body={"email": clinic.admin.email, "password": clinic.admin.password}
    )
    assert set(data) == {"token", "expires_at", "member"}
    assert data["member"] == {
        "id": clinic.admin.id,
        "name": "Admin",
        "role": "clinic_admin",
        "clinic_id": clinic.clinic_id,
    }
    assert data["expires_at"].endswith("Z")


async def test_login_failures(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    wrong = {"email": clinic.admin.email, "password": "not-the-password"}
    await fails(clinic_server, "POST", "/auth/login", 401, "unauthorized", body=wrong)
    nobody = {"email": "nobody@example.org", "password": "whatever-it-is"}
    assert await fails(
        clinic_server, "POST", "/auth/login", 401, "unauthorized", body=nobody
    ) == await fails(clinic_server, "POST", "/auth/login", 401, "unauthorized", body=wrong)
    message = await fails(
        clinic_server, "POST", "/auth/login", 422, "invalid", body={"email": "x@example.org"}
    )
    assert "password" in message
    async with clinic_server.session.post(
        clinic_server.url + "/api/v1/auth/login", data=b"{not json"
    ) as response:
        assert response.status == 422
        assert (await response.json())["error"]["code"] == "invalid"


async def test_tokens_are_checked(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    path = f"/clinics/{clinic.clinic_id}/rooms"
    await fails(clinic_server, "GET", path, 401, "unauthorized")
    await fails(clinic_server, "GET", path, 401, "unauthorized", token="forged-token")


# ---- members ---------------------------------------------------------------------------


async def test_admin_adds_members(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    body = {
        "email": "New.Doc@Example.org",
        "name": "New Doc",
        "role": "team_member",
        "password": "a long enough password",
    }
    path = f"/clinics/{clinic.clinic_id}/members"
    created = await clinic_server.ok("POST", path, clinic.admin.token, body)
    assert created == {
        "id": created["id"],
        "email": "new.doc@example.org",
        "name": "New Doc",
        "role": "team_member",
        "clinic_id": clinic.clinic_id,
    }
    await fails(clinic_server, "POST", path, 409, "conflict", clinic.admin.token, body)
    # the new member can log in
    login = {"email": "new.doc@example.org", "password": "a long enough password"}
    assert (await clinic_server.ok("POST", "/auth/login", body=login))["member"]["id"]


async def test_members_errors(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    path = f"/clinics/{clinic.clinic_id}/members"
    good = {"email": "a@example.org", "name": "A", "role": "team_member", "password": "x" * 12}
    await fails(clinic_server, "POST", path, 403, "forbidden", clinic.member.token, good)
    other = await clinic_server.make_clinic("Other")
    await fails(clinic_server, "POST", path, 403, "forbidden", other.admin.token, good)
    await fails(clinic_server, "POST", path, 401, "unauthorized", None, good)
    bad = {"email": "not-an-email", "name": "", "role": "boss", "password": "short"}
    message = await fails(clinic_server, "POST", path, 422, "invalid", clinic.admin.token, bad)
    for field in ("email", "name", "role", "password"):
        assert field in message  # every problem at once


# ---- rooms -----------------------------------------------------------------------------


async def test_rooms_list_and_create(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    path = f"/clinics/{clinic.clinic_id}/rooms"
    created = await clinic_server.ok(
        "POST", path, clinic.admin.token, {"kind": "meeting_room", "name": "Board room"}
    )
    assert created == {
        "id": created["id"], "kind": "meeting_room", "name": "Board room", "owner_id": None,
    }  # fmt: skip
    own = await clinic_server.ok(
        "POST", path, clinic.admin.token,
        {"kind": "user_room", "name": "Other's room", "owner_id": clinic.other_member.id},
    )  # fmt: skip
    assert own["owner_id"] == clinic.other_member.id
    rooms = await clinic_server.ok("GET", path, clinic.member.token)
    kinds = [r["kind"] for r in rooms]
    assert kinds.count("waiting_area") == 1
    assert {r["id"] for r in rooms} >= {created["id"], own["id"], clinic.meeting_room}
    assert all(set(r) == {"id", "kind", "name", "owner_id"} for r in rooms)


async def test_rooms_errors(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    path = f"/clinics/{clinic.clinic_id}/rooms"
    admin = clinic.admin.token
    second = {"kind": "user_room", "name": "Again", "owner_id": clinic.member.id}
    await fails(clinic_server, "POST", path, 409, "conflict", admin, second)
    await fails(
        clinic_server, "POST", path, 422, "invalid", admin, {"kind": "user_room", "name": "X"}
    )
    await fails(
        clinic_server, "POST", path, 422, "invalid", admin, {"kind": "waiting_area", "name": "W2"}
    )
    meeting = {"kind": "meeting_room", "name": "M"}
    await fails(clinic_server, "POST", path, 403, "forbidden", clinic.member.token, meeting)
    other = await clinic_server.make_clinic("Other")
    foreign_owner = {"kind": "user_room", "name": "X", "owner_id": other.member.id}
    await fails(clinic_server, "POST", path, 404, "not_found", admin, foreign_owner)
    await fails(clinic_server, "GET", path, 403, "forbidden", other.member.token)


# ---- join tokens -----------------------------------------------------------------------


async def test_join_token_for_a_meeting_room(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    grant = await clinic_server.ok(
        "POST", f"/rooms/{clinic.meeting_room}/join-token", clinic.member.token
    )
    assert set(grant) == {"token", "expires_at", "room_id", "room_name", "signal_url"}
    assert grant["room_id"] == clinic.meeting_room
    assert grant["signal_url"] == clinic_server.signal_url
    claims = await verified(clinic_server, clinic.clinic_id, grant["token"])
    assert (claims.subject, claims.role, claims.room_id, claims.clinic_id) == (
        clinic.member.id, Role.CLINICIAN, clinic.meeting_room, clinic.clinic_id,
    )  # fmt: skip
    assert 0 < claims.expires_at - time.time() <= 300  # short-lived


async def test_join_token_rules(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    user_room = f"/rooms/{clinic.user_room}/join-token"
    assert await clinic_server.ok("POST", user_room, clinic.member.token)  # the owner
    await fails(clinic_server, "POST", user_room, 403, "forbidden", clinic.other_member.token)
    await fails(clinic_server, "POST", user_room, 403, "forbidden", clinic.admin.token)
    other = await clinic_server.make_clinic("Other")
    meeting = f"/rooms/{clinic.meeting_room}/join-token"
    await fails(clinic_server, "POST", meeting, 403, "forbidden", other.admin.token)
    await fails(clinic_server, "POST", meeting, 401, "unauthorized")
    await fails(clinic_server, "POST", "/rooms/rm_nope/join-token", 404, "not_found",
                clinic.member.token)  # fmt: skip
    waiting = f"/rooms/{clinic.waiting_area}/join-token"
    await fails(clinic_server, "POST", waiting, 403, "forbidden", clinic.member.token)


# ---- guest links -----------------------------------------------------------------------


async def test_guest_links(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    link = await clinic_server.ok(
        "POST", f"/rooms/{clinic.meeting_room}/guest-links", clinic.member.token
    )
    assert set(link) == {"url", "guest_token", "expires_at"}
    assert link["url"] == f"{clinic_server.url}/guest#{link['guest_token']}"
    grant = await clinic_server.ok(
        "POST", "/guest/join-token", body={"guest_token": link["guest_token"], "name": "Visitor"}
    )
    claims = await verified(clinic_server, clinic.clinic_id, grant["token"])
    assert (claims.role, claims.room_id, claims.name) == (
        Role.GUEST, clinic.meeting_room, "Visitor",
    )  # fmt: skip
    # the owner invites to their user room; nobody else may
    own = f"/rooms/{clinic.user_room}/guest-links"
    assert await clinic_server.ok("POST", own, clinic.member.token)
    await fails(clinic_server, "POST", own, 403, "forbidden", clinic.other_member.token)
    waiting = f"/rooms/{clinic.waiting_area}/guest-links"
    await fails(clinic_server, "POST", waiting, 403, "forbidden", clinic.member.token)


async def test_guest_join_token_failures(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    body = {"guest_token": "made-up", "name": "Mallory"}
    await fails(clinic_server, "POST", "/guest/join-token", 401, "unauthorized", body=body)
    await clinic_server.storage.create_guest_link(
        clinic.meeting_room, secret_hash("expired-one"), clinic.member.id, time.time() - 1
    )
    body = {"guest_token": "expired-one", "name": "Late"}
    await fails(clinic_server, "POST", "/guest/join-token", 401, "unauthorized", body=body)
    await fails(clinic_server, "POST", "/guest/join-token", 422, "invalid", body={"name": "x"})


# ---- the waiting area ------------------------------------------------------------------


async def test_waiting_area(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    ann = await clinic_server.ok("POST", enter, body={"name": "Ann"})
    assert set(ann) == {"patient_id", "token", "expires_at", "room_id", "room_name", "signal_url"}
    claims = await verified(clinic_server, clinic.clinic_id, ann["token"])
    assert (claims.role, claims.room_id, claims.subject) == (
        Role.PATIENT, ann["room_id"], ann["patient_id"],
    )  # fmt: skip
    bob = await clinic_server.ok("POST", enter, body={"name": "Bob"})
    waiting = await clinic_server.ok(
        "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
    )
    assert [(p["patient_id"], p["name"]) for p in waiting] == [
        (ann["patient_id"], "Ann"), (bob["patient_id"], "Bob"),
    ]  # fmt: skip
    assert all(set(p) >= {"patient_id", "name", "waiting_since"} for p in waiting)
    grant = await clinic_server.ok(
        "POST", f"/waiting-area/{ann['patient_id']}/join-token", clinic.member.token
    )
    assert grant["room_id"] == ann["room_id"]
    # the private space is not a room anybody lists
    rooms = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/rooms", clinic.member.token)
    assert ann["room_id"] not in {r["id"] for r in rooms}


async def test_waiting_area_errors(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    await fails(clinic_server, "POST", "/clinics/cl_nope/waiting-area/enter", 404, "not_found",
                body={"name": "Ann"})  # fmt: skip
    enter = f"/clinics/{clinic.clinic_id}/waiting-area/enter"
    await fails(clinic_server, "POST", enter, 422, "invalid", body={"name": "  "})
    ann = await clinic_server.ok("POST", enter, body={"name": "Ann"})
    other = await clinic_server.make_clinic("Other")
    listing = f"/clinics/{clinic.clinic_id}/waiting-area"
    await fails(clinic_server, "GET", listing, 403, "forbidden", other.member.token)
    await fails(clinic_server, "GET", listing, 401, "unauthorized")
    join = f"/waiting-area/{ann['patient_id']}/join-token"
    await fails(clinic_server, "POST", join, 403, "forbidden", other.member.token)
    await fails(clinic_server, "POST", "/waiting-area/pt_nope/join-token", 404, "not_found",
                clinic.member.token)  # fmt: skip
    # a patient space is not joined through the rooms endpoint
    await fails(clinic_server, "POST", f"/rooms/{ann['room_id']}/join-token", 403, "forbidden",
                clinic.member.token)  # fmt: skip


@pytest.mark.parametrize("path", ["/nope", "/rooms"])
async def test_unknown_paths_answer_json(clinic_server: ClinicServer, path: str) -> None:
    await fails(clinic_server, "GET", path, 404, "not_found")
