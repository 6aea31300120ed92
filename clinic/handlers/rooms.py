"""Rooms, join tokens and guest links."""

from __future__ import annotations

import time

from aiohttp import web

from clinic.auth import new_secret, secret_hash
from clinic.errors import ForbiddenError, InvalidError, NotFoundError, UnauthorizedError
from clinic.models import GuestJoin, NewRoom
from clinic.principals import Device, Guest, Member, Patient, Principal, Room, RoomKind
from clinic.rules import may_invite_guests, may_join, may_see_rooms
from clinic.web import (
    KEYS,
    LIMITS,
    STORAGE,
    authenticate,
    authenticate_member,
    client_address,
    clinic_admin,
    iso,
    parse_body,
    public_base,
    signal_url,
)
from kiosk.signalling.messages import Role

routes = web.RouteTableDef()

GUEST_LINK_TTL_S = 24 * 3600


def room_json(room: Room) -> dict[str, str | None]:
    return {"id": room.id, "kind": room.kind.value, "name": room.name, "owner_id": room.owner_id}


@routes.get("/api/v1/clinics/{clinic_id}/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    who = await authenticate(request)
    clinic_id = request.match_info["clinic_id"]
    if not may_see_rooms(who, clinic_id):
        raise ForbiddenError("not a member of this clinic")
    rooms = await request.app[STORAGE].rooms(clinic_id)
    return web.json_response([room_json(r) for r in rooms])


@routes.post("/api/v1/clinics/{clinic_id}/rooms")
async def create_room(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "create rooms")
    body = await parse_body(request, NewRoom)
    kind = RoomKind(body.kind)
    if kind is RoomKind.USER_ROOM and body.owner_id is None:
        raise InvalidError(["owner_id: a user room needs the member who owns it"])
    if kind is RoomKind.MEETING_ROOM and body.owner_id is not None:
        raise InvalidError(["owner_id: a meeting room has no owner"])
    room = await request.app[STORAGE].create_room(clinic_id, kind, body.name, body.owner_id)
    return web.json_response(room_json(room), status=201)


async def join_token_response(
    request: web.Request, who: Principal, room: Room, subject: str, name: str, role: Role
) -> web.Response:
    if not may_join(who, room):
        raise ForbiddenError(f"not allowed into {room.kind.value} {room.id}")
    token, expires = await request.app[KEYS].sign_join(
        clinic_id=room.clinic_id, room_id=room.id, subject=subject, name=name, role=role
    )
    return web.json_response(
        {
            "token": token,
            "expires_at": iso(expires),
            "room_id": room.id,
            "room_name": room.name,  # for the call view to say where you are
            "signal_url": signal_url(request),
        }
    )


def identity(who: Principal) -> tuple[str, str, Role]:
    match who:
        case Member():
            return who.id, who.name, Role.CLINICIAN
        case Device():
            return who.id, who.name, Role.DEVICE
        case Guest():
            return f"guest:{who.room_id}", "Guest", Role.GUEST
        case Patient():
            return who.id, "Patient", Role.PATIENT


async def existing_room(request: web.Request, room_id: str) -> Room:
    room = await request.app[STORAGE].room(room_id)
    if room is None:
        raise NotFoundError(f"no room {room_id}")
    return room


@routes.post("/api/v1/rooms/{room_id}/join-token")
async def join_token(request: web.Request) -> web.Response:
    who = await authenticate(request)
    room = await existing_room(request, request.match_info["room_id"])
    if room.kind is RoomKind.PATIENT_SPACE:
        # patient spaces are entered through /waiting-area/{patient_id}/join-token
        raise ForbiddenError("join a patient through the waiting area")
    subject, name, role = identity(who)
    return await join_token_response(request, who, room, subject, name, role)


@routes.post("/api/v1/rooms/{room_id}/guest-links")
async def create_guest_link(request: web.Request) -> web.Response:
    who = await authenticate_member(request)
    room = await existing_room(request, request.match_info["room_id"])
    if not may_invite_guests(who, room):
        raise ForbiddenError(f"you may not invite guests to {room.kind.value} {room.id}")
    guest_token, expires = new_secret(), time.time() + GUEST_LINK_TTL_S
    await request.app[STORAGE].create_guest_link(room.id, secret_hash(guest_token), who.id, expires)
    return web.json_response(
        {
            "url": f"{public_base(request)}/guest#{guest_token}",
            "guest_token": guest_token,
            "expires_at": iso(expires),
        },
        status=201,
    )


@routes.post("/api/v1/guest/join-token")
async def guest_join_token(request: web.Request) -> web.Response:
    attempt = await request.app[LIMITS].guest.take(client_address(request))
    body = await parse_body(request, GuestJoin)
    guest = await request.app[STORAGE].guest(secret_hash(body.guest_token))
    if guest is None:
        raise UnauthorizedError("the guest link is unknown or expired")
    attempt.succeeded()
    room = await existing_room(request, guest.room_id)
    subject = f"guest:{secret_hash(body.guest_token)[:12]}"
    return await join_token_response(request, guest, room, subject, body.name, Role.GUEST)
