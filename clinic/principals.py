"""Who is asking: the kinds of caller the access rules know about."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MemberRole(StrEnum):
    CLINIC_ADMIN = "clinic_admin"
    TEAM_MEMBER = "team_member"


class RoomKind(StrEnum):
    WAITING_AREA = "waiting_area"
    MEETING_ROOM = "meeting_room"
    USER_ROOM = "user_room"
    PATIENT_SPACE = "patient_space"  # a waiting patient's private space (not listed)


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    clinic_id: str
    role: MemberRole
    name: str


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    clinic_id: str
    name: str
    rooms: frozenset[str]  # the rooms its config names on a button


@dataclass(frozen=True, slots=True)
class Guest:
    clinic_id: str
    room_id: str  # the room of the guest link
    invited_by: str


@dataclass(frozen=True, slots=True)
class Patient:
    id: str
    clinic_id: str
    room_id: str  # their private space


Principal = Member | Device | Guest | Patient


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    clinic_id: str
    kind: RoomKind
    name: str
    owner_id: str | None  # the member of a user room; the patient of a patient space
