"""The waiting area: patients enter, clinicians and devices see them and join one."""

from __future__ import annotations

import time

from aiohttp import web

from clinic.errors import ForbiddenError, NotFoundError
from clinic.handlers.rooms import existing_room, identity, join_token_response
from clinic.models import EnterWaitingArea
from clinic.principals import Patient
from clinic.rules import may_see_waiting_area
from clinic.web import (
    KEYS,
    LIMITS,
    STORAGE,
    authenticate,
    client_address,
    iso,
    parse_body,
    signal_url,
)
from kiosk.signalling.messages import Role

routes = web.RouteTableDef()

PATIENT_TOKEN_TTL_S = 3600  # a patient may wait a while before a clinician comes


@routes.post("/api/v1/clinics/{clinic_id}/waiting-area/enter")
async def enter(request: web.Request) -> web.Response:
    clinic_id = request.match_info["clinic_id"]
    await request.app[LIMITS].enter.take(client_address(request))
    body = await parse_body(request, EnterWaitingArea)
    storage = request.app[STORAGE]
    if not await storage.clinic_exists(clinic_id):
        raise NotFoundError(f"no clinic {clinic_id}")
    patient = await storage.add_patient(clinic_id, body.name)
    token, expires = await request.app[KEYS].sign_join(
        subject=patient.id,
        name=body.name,
        role=Role.PATIENT,
        clinic_id=clinic_id,
        room_id=patient.room_id,
        ttl_s=PATIENT_TOKEN_TTL_S,
    )
    return web.json_response(
        {
            "patient_id": patient.id,
            "token": token,
            "expires_at": iso(expires),
            "room_id": patient.room_id,
            "signal_url": signal_url(request),
        },
        status=201,
    )


@routes.get("/api/v1/clinics/{clinic_id}/waiting-area")
async def list_waiting(request: web.Request) -> web.Response:
    who = await authenticate(request)
    clinic_id = request.match_info["clinic_id"]
    if not may_see_waiting_area(who, clinic_id):
        raise ForbiddenError("not a member or device of this clinic")
    waiting = await request.app[STORAGE].waiting_patients(clinic_id)
    now = time.time()
    return web.json_response(
        [
            {
                "patient_id": p.patient_id,
                "name": p.name,
                "waiting_since": iso(p.waiting_since),
                "waiting_s": round(now - p.waiting_since),
            }
            for p in waiting
        ]
    )


@routes.post("/api/v1/waiting-area/{patient_id}/join-token")
async def join_patient(request: web.Request) -> web.Response:
    who = await authenticate(request)
    record = await request.app[STORAGE].patient(request.match_info["patient_id"])
    if record is None or record.status == "ended":
        raise NotFoundError("no such patient is waiting")
    room = await existing_room(request, record.room_id)
    if isinstance(who, Patient):
        raise ForbiddenError("patients use the token they got on entering")
    subject, name, role = identity(who)
    return await join_token_response(request, who, room, subject, name, role)
