"""Who may do what (PROTOCOL.md section 1): plain functions, no I/O, no HTTP."""

from __future__ import annotations

from clinic.principals import Device, Guest, Member, MemberRole, Patient, Principal, Room, RoomKind


def may_join(who: Principal, room: Room) -> bool:
    """May ``who`` enter the call of ``room``?"""
    if who.clinic_id != room.clinic_id:
        return False  # anything of another clinic: nobody
    match room.kind:
        case RoomKind.MEETING_ROOM:
            match who:
                case Member():
                    return True
                case Device():
                    return room.id in who.rooms
                case Guest():
                    return who.room_id == room.id
                case Patient():
                    return False  # patients never
        case RoomKind.USER_ROOM:
            match who:
                case Member():
                    return who.id == room.owner_id  # not even a clinic admin
                case Device():
                    return room.id in who.rooms
                case Guest():
                    return who.room_id == room.id and who.invited_by == room.owner_id
                case Patient():
                    return False
        case RoomKind.PATIENT_SPACE:
            match who:
                case Member() | Device():
                    return True
                case Patient():
                    return who.id == room.owner_id
                case Guest():
                    return False
        case RoomKind.WAITING_AREA:
            return False  # nobody calls into the waiting area itself; patients get a space


def may_invite_guests(who: Principal, room: Room) -> bool:
    """Guest links exist for meeting rooms and user rooms, made by a member allowed in."""
    return (
        isinstance(who, Member)
        and room.kind in (RoomKind.MEETING_ROOM, RoomKind.USER_ROOM)
        and may_join(who, room)
    )


def may_see_waiting_area(who: Principal, clinic_id: str) -> bool:
    return isinstance(who, Member | Device) and who.clinic_id == clinic_id


def may_see_rooms(who: Principal, clinic_id: str) -> bool:
    return isinstance(who, Member | Device) and who.clinic_id == clinic_id


def is_clinic_admin(who: Principal, clinic_id: str) -> bool:
    return (
        isinstance(who, Member)
        and who.clinic_id == clinic_id
        and who.role is MemberRole.CLINIC_ADMIN
    )
