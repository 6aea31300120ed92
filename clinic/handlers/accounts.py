"""Login and clinic members."""

from __future__ import annotations

import time

from aiohttp import web

from clinic.auth import LOGIN_TTL_S, new_secret, secret_hash
from clinic.errors import UnauthorizedError
from clinic.models import Login, NewMember
from clinic.web import (
    LIMITS,
    PASSWORDS,
    STORAGE,
    authenticate_member,
    bearer,
    client_address,
    clinic_admin,
    iso,
    parse_body,
)

routes = web.RouteTableDef()


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    limits, client = request.app[LIMITS], client_address(request)
    from_address = await limits.login_address.take(client)
    body = await parse_body(request, Login)
    account_key = await limits.login_account_key(body.email, client)
    for_account = await limits.login_account.take(account_key)
    storage, passwords = request.app[STORAGE], request.app[PASSWORDS]
    found = await storage.member_for_login(body.email)
    ok = await passwords.verify(found[1] if found else None, body.password, client)
    if not ok or found is None:
        raise UnauthorizedError("wrong email or password")
    from_address.succeeded()
    for_account.succeeded()
    await limits.logged_in(body.email, client)
    member = found[0]
    token, expires = new_secret(), time.time() + LOGIN_TTL_S
    await storage.create_session(member.id, secret_hash(token), expires)
    return web.json_response(
        {
            "token": token,
            "expires_at": iso(expires),
            "member": {
                "id": member.id,
                "name": member.name,
                "role": member.role.value,
                "clinic_id": member.clinic_id,
            },
        }
    )


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """Ends this login token at once (PROTOCOL.md section 6)."""
    await authenticate_member(request)
    await request.app[STORAGE].end_session(secret_hash(bearer(request)))
    return web.json_response({"logged_out": True})


@routes.post("/api/v1/clinics/{clinic_id}/members")
async def create_member(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "add members")
    body = await parse_body(request, NewMember)
    password_hash = await request.app[PASSWORDS].hash(body.password)
    member = await request.app[STORAGE].create_member(
        clinic_id, body.email, body.name, body.role, password_hash
    )
    return web.json_response(
        {
            "id": member.id,
            "email": body.email.lower(),
            "name": member.name,
            "role": member.role.value,
            "clinic_id": clinic_id,
        },
        status=201,
    )


@routes.get("/api/v1/clinics/{clinic_id}/members")
async def list_members(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "list members")
    members = await request.app[STORAGE].members(clinic_id)
    return web.json_response(
        [
            {
                "id": m.id,
                "email": email,
                "name": m.name,
                "role": m.role.value,
                "clinic_id": clinic_id,
            }
            for m, email in members
        ]
    )
