"""The access matrix of PROTOCOL.md section 1: every role x room kind x relation."""

from __future__ import annotations

import pytest

from clinic.principals import (
    Device,
    Guest,
    Member,
    MemberRole,
    Patient,
    Principal,
    Room,
    RoomKind,
)
from clinic.rules import (
    is_clinic_admin,
    may_invite_guests,
    may_join,
    may_see_rooms,
    may_see_waiting_area,
)

HOME, AWAY = "cl_home", "cl_away"
OWNER = "mb_owner"
PATIENT = "pt_ann"


def room(kind: RoomKind, clinic: str = HOME) -> Room:
    owner = {RoomKind.USER_ROOM: OWNER, RoomKind.PATIENT_SPACE: PATIENT}.get(kind)
    return Room(f"rm_{kind.value}_{clinic}", clinic, kind, "r", owner)


def who(kind: str, relation: str, target: Room) -> Principal:
    """A principal of ``kind`` whose relation to ``target`` is ``relation``:
    'owner' (owns it / is assigned it / was invited to it) or 'other' (same clinic, no tie);
    both in the room's clinic. 'foreign' is an 'owner'-like principal of another clinic."""
    clinic = AWAY if relation == "foreign" else target.clinic_id
    tied = relation in ("owner", "foreign")
    match kind:
        case "admin" | "member":
            role = MemberRole.CLINIC_ADMIN if kind == "admin" else MemberRole.TEAM_MEMBER
            return Member(OWNER if tied else "mb_other", clinic, role, "x")
        case "device":
            return Device("dv_1", clinic, "box", frozenset({target.id} if tied else set()))
        case "guest":
            return Guest(clinic, target.id if tied else "rm_elsewhere", OWNER)
        case "patient":
            return Patient(PATIENT if tied else "pt_bob", clinic, "rm_space")
    raise AssertionError(kind)


KINDS = ["admin", "member", "device", "guest", "patient"]
RELATIONS = ["owner", "other", "foreign"]

# expected may_join, for (principal kind, relation) per room kind
ALLOWED: dict[RoomKind, set[tuple[str, str]]] = {
    RoomKind.MEETING_ROOM: {
        ("admin", "owner"), ("admin", "other"), ("member", "owner"), ("member", "other"),
        ("device", "owner"), ("guest", "owner"),
    },
    RoomKind.USER_ROOM: {
        ("admin", "owner"), ("member", "owner"), ("device", "owner"), ("guest", "owner"),
    },
    RoomKind.PATIENT_SPACE: {
        ("admin", "owner"), ("admin", "other"), ("member", "owner"), ("member", "other"),
        ("device", "owner"), ("device", "other"), ("patient", "owner"),
    },
    RoomKind.WAITING_AREA: set(),
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("room_kind", list(RoomKind))
def test_access_matrix(kind: str, relation: str, room_kind: RoomKind) -> None:
    target = room(room_kind)
    expected = (kind, relation) in ALLOWED[room_kind]
    assert may_join(who(kind, relation, target), target) is expected


def test_a_clinic_admin_may_not_enter_a_user_room_they_do_not_own() -> None:
    target = room(RoomKind.USER_ROOM)
    admin = Member("mb_admin", HOME, MemberRole.CLINIC_ADMIN, "a")
    assert not may_join(admin, target)
    assert not may_invite_guests(admin, target)


def test_a_guest_invited_by_someone_else_may_not_enter_a_user_room() -> None:
    target = room(RoomKind.USER_ROOM)
    assert not may_join(Guest(HOME, target.id, "mb_someone_else"), target)


@pytest.mark.parametrize("room_kind", list(RoomKind))
def test_guest_links_only_for_meeting_and_own_user_rooms(room_kind: RoomKind) -> None:
    target = room(room_kind)
    member = Member(OWNER, HOME, MemberRole.TEAM_MEMBER, "m")
    expected = room_kind in (RoomKind.MEETING_ROOM, RoomKind.USER_ROOM)
    assert may_invite_guests(member, target) is expected
    assert not may_invite_guests(Device("dv", HOME, "box", frozenset({target.id})), target)
    assert not may_invite_guests(Member(OWNER, AWAY, MemberRole.TEAM_MEMBER, "m"), target)


def test_who_sees_the_waiting_area_and_rooms() -> None:
    for check in (may_see_waiting_area, may_see_rooms):
        assert check(Member("m", HOME, MemberRole.TEAM_MEMBER, "m"), HOME)
        assert check(Device("d", HOME, "box", frozenset()), HOME)
        assert not check(Member("m", AWAY, MemberRole.CLINIC_ADMIN, "m"), HOME)
        assert not check(Patient("p", HOME, "r"), HOME)
        assert not check(Guest(HOME, "r", "m"), HOME)


def test_only_an_admin_of_the_clinic_administers_it() -> None:
    assert is_clinic_admin(Member("m", HOME, MemberRole.CLINIC_ADMIN, "m"), HOME)
    assert not is_clinic_admin(Member("m", AWAY, MemberRole.CLINIC_ADMIN, "m"), HOME)
    assert not is_clinic_admin(Member("m", HOME, MemberRole.TEAM_MEMBER, "m"), HOME)
    assert not is_clinic_admin(Device("d", HOME, "box", frozenset()), HOME)
