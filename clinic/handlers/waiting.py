"""The waiting area: patients enter, clinicians and devices see them and join one.

Who is listed is who is there (PROTOCOL.md section 6): a patient whose page holds a
session in their space, or who entered or whose page went at most a grace ago
(`clinic/consultations.py`)."""

from __future__ import annotations

import time

from aiohttp import web

from clinic.errors import ForbiddenError, NotFoundError
from clinic.handlers.rooms import existing_room, identity, join_token_response
from clinic.models import EnterWaitingArea
from clinic.principals import Patient
from clinic.rules import may_see_waiting_area
from clinic.web import (
    CONSULTATIONS,
    KEYS,
    LIMITS,
    STORAGE,
    authenticate,
    bearer,
    client_address,
    iso,
    parse_body,
    signal_url,
)
from kiosk.signalling.messages import Role
from kiosk.signalling.tokens import TokenError

routes = web.RouteTableDef()

PATIENT_TOKEN_TTL_S = 3600  # a patient may wait a while before a clinician comes


@routes.post("/api/v1/clinics/{clinic_id}/waiting-area/enter")
async def enter(request: web.Request) -> web.Response:
    clinic_id = request.match_info["clinic_id"]
    await request.app[LIMITS].enter.take(client_address(request))
    body = await parse_body(request, EnterWaitingArea)
    storage = request.app[STORAGE]
    clinic_name = await storage.clinic_name(clinic_id)
    if clinic_name is None:
        raise NotFoundError(f"no clinic {clinic_id}")
    patient = await storage.add_patient(clinic_id, body.name)
    request.app[CONSULTATIONS].entered(clinic_id)
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
            "room_name": f"Waiting area of {clinic_name}",  # what the patient's page says
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
    grace_s = request.app[CONSULTATIONS].grace_s
    waiting = await request.app[STORAGE].waiting_patients(clinic_id, grace_s)
    now = time.time()
    return web.json_response(
        [
            {
                "patient_id": p.patient_id,
                "name": p.name,
                "waiting_since": iso(p.waiting_since),
                "waiting_s": round(now - p.waiting_since),
                "state": p.state,
                "with": list(p.with_names),  # who is in consultation with them
                "connected": p.connected,  # their page is there now (else: within the grace)
            }
            for p in waiting
        ]
    )


@routes.post("/api/v1/waiting-area/{patient_id}/join-token")
async def join_patient(request: web.Request) -> web.Response:
    who = await authenticate(request)
    record = await request.app[STORAGE].patient(request.match_info["patient_id"])
    if record is None or not record.present(time.time(), request.app[CONSULTATIONS].grace_s):
        raise NotFoundError("no such patient is waiting")
    room = await existing_room(request, record.room_id)
    if isinstance(who, Patient):
        raise ForbiddenError("patients use the token they got on entering")
    subject, name, role = identity(who)
    return await join_token_response(request, who, room, subject, name, role)


@routes.delete("/api/v1/waiting-area/{patient_id}")
async def leave_waiting_area(request: web.Request) -> web.Response:
    """The patient leaves for good (their page's Leave, with the token they got on
    entering): no longer listed, at once."""
    patient_id = request.match_info["patient_id"]
    try:
        claims = await request.app[KEYS].verify_join(bearer(request))
    except TokenError:
        raise ForbiddenError("only the patient leaves their waiting-area place") from None
    if claims.role is not Role.PATIENT or claims.subject != patient_id:
        raise ForbiddenError("only the patient leaves their waiting-area place")
    storage = request.app[STORAGE]
    record = await storage.patient(patient_id)
    if record is None:
        raise NotFoundError("no such patient")
    await storage.set_patient_status(patient_id, "ended")
    request.app[CONSULTATIONS].gone(record.clinic_id)
    return web.json_response({"patient_id": patient_id, "left": True})
