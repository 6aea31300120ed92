"""Devices: the admin's side (create, list, configure, command, revoke), enrollment and the
device channel."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import replace
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinic.auth import new_secret, secret_hash
from clinic.config_check import ConfigChecker
from clinic.device_channels import Sighting
from clinic.device_list import PageRequest, StateFilter, encode_cursor, has_problem, read_page
from clinic.enrollment import create_device, normalise_code, renew_code
from clinic.errors import (
    ConflictError,
    ForbiddenError,
    InvalidCodeError,
    InvalidError,
    NotFoundError,
)
from clinic.merge_patch import merge_patch
from clinic.principals import Principal
from clinic.rules import is_clinic_admin
from clinic.storage import DeviceRecord, Storage
from clinic.web import (
    BUS,
    CHANNELS,
    LIMITS,
    STORAGE,
    authenticate,
    authenticate_device,
    client_address,
    clinic_admin,
    iso,
    parse_body,
)
from clinic.webhooks import WebhookTargetError, check_url
from kiosk.signalling.channel import CLOSE_REVOKED, CommandAction, command_message
from kiosk.signalling.device_config import DeviceConfig
from kiosk.signalling.server import HUB
from kiosk.signalling.validation import problems

routes = web.RouteTableDef()

MAX_BULK = 100_000  # device ids in one bulk change
MAX_PROBLEMS = 50  # listed in one answer
BULK_PAGE = 1000


class DeviceName(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)


class Hardware(BaseModel):
    model: str = Field("", max_length=200)
    serial: str = Field("", max_length=200)
    software_version: str = Field("", max_length=64)


class Enrollment(BaseModel):
    enrollment_code: str = Field(min_length=1, max_length=64)
    hardware: Hardware = Hardware()


class NewCommand(BaseModel):
    action: CommandAction


async def admin_device(request: web.Request) -> tuple[Principal, DeviceRecord]:
    who = await authenticate(request)
    device = await request.app[STORAGE].device(request.match_info["device_id"])
    if device is None or device.revoked:
        raise NotFoundError("no such device")
    if not is_clinic_admin(who, device.clinic_id):
        raise ForbiddenError("only a clinic admin of the device's clinic")
    return who, device


def device_json(seen: Sighting) -> dict[str, Any]:
    """``seen``: heartbeats are not written one by one, and may be heard elsewhere."""
    device = seen.device
    return {
        "device_id": device.id,
        "name": device.name,
        "enrolled": device.enrolled,
        "online": seen.online,
        "last_seen": iso(device.last_seen) if device.last_seen else None,
        "status": device.status,
        "config_version": device.config_version,
        "config": device.config,
        "hardware": device.hardware,
    }


@routes.post("/api/v1/clinics/{clinic_id}/devices")
async def add_device(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "add devices")
    body = await parse_body(request, DeviceName)
    new = await create_device(request.app[STORAGE], clinic_id, body.name)
    return web.json_response(
        {
            "device_id": new.device_id,
            "enrollment_code": new.enrollment_code,
            "expires_at": iso(new.expires_at),
        },
        status=201,
    )


@routes.post("/api/v1/devices/{device_id}/enrollment-code")
async def new_enrollment_code(request: web.Request) -> web.Response:
    """A new one-time code for a device never enrolled (the one before stops working)."""
    _, device = await admin_device(request)
    renewed = await renew_code(request.app[STORAGE], device.id)
    if renewed is None:
        raise ConflictError("the device is enrolled already: it needs no code")
    return web.json_response(
        {
            "device_id": device.id,
            "enrollment_code": renewed.enrollment_code,
            "expires_at": iso(renewed.expires_at),
        },
        status=201,
    )


@routes.get("/api/v1/clinics/{clinic_id}/devices")
async def list_devices(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "see its devices")
    page = PageRequest.parse(request.query)
    shown: dict[str, dict[str, Any]] = {}
    seen: dict[str, Sighting] = {}

    async def look(devices: list[DeviceRecord]) -> None:
        seen.update(await request.app[CHANNELS].sightings(devices))

    def matches(device: DeviceRecord) -> bool:
        shown[device.id] = listed = device_json(seen[device.id])
        match page.state:
            case None:
                return True
            case StateFilter.ONLINE:
                return bool(listed["online"])
            case StateFilter.OFFLINE:
                return not listed["online"]
            case StateFilter.PROBLEM:
                return bool(listed["online"]) and has_problem(listed["status"])

    devices, after = await read_page(request.app[STORAGE], clinic_id, page, look, matches)
    headers = {}
    if after is not None:
        query = {**request.query, "cursor": encode_cursor(after)}
        headers["Link"] = f'<{request.rel_url.with_query(query)}>; rel="next"'
    return web.json_response([shown[d.id] for d in devices], headers=headers)


@routes.put("/api/v1/devices/{device_id}/config")
async def put_config(request: web.Request) -> web.Response:
    _, device = await admin_device(request)
    config = await parse_body(request, DeviceConfig)
    storage = request.app[STORAGE]
    wrong = await ConfigChecker(storage, device.clinic_id).problems(config)
    if wrong:
        raise InvalidError(wrong)
    stored = config.model_dump(mode="json")
    version = await storage.set_device_config(device.id, stored)
    updated = await storage.device(device.id)
    assert updated is not None
    await request.app[CHANNELS].push_config(updated)
    return web.json_response({"config_version": version})


class BulkChange(BaseModel):
    """The same change to many devices' configs: ``change`` is a JSON merge patch (RFC 7396)
    applied to each one's config."""

    devices: Literal["all"] | list[str] = Field(max_length=MAX_BULK)
    change: dict[str, Any]


@routes.patch("/api/v1/clinics/{clinic_id}/devices/config")
async def change_configs(request: web.Request) -> web.Response:
    """All or nothing: every changed config is checked as a PUT would check it first."""
    clinic_id = await clinic_admin(request, "configure its devices")
    body = await parse_body(request, BulkChange)
    storage = request.app[STORAGE]
    wrong: list[str] = []
    if body.devices == "all":
        targets = await all_devices(storage, clinic_id)
    else:
        found = await storage.devices_in_clinic(clinic_id, set(body.devices))
        targets = [found[d] for d in dict.fromkeys(body.devices) if d in found]
        wrong += [f"devices: no device {d} in this clinic" for d in body.devices if d not in found]
    checker = ConfigChecker(storage, clinic_id)
    changed: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, device in enumerate(targets):
        try:
            config = DeviceConfig.model_validate(merge_patch(device.config, body.change))
        except ValidationError as exc:
            wrong += [f"{device.id}: {p}" for p in problems(exc, "config")]
            continue
        wrong += [f"{device.id}: {p}" for p in await checker.problems(config)]
        changed[device.id] = (device.config_version, config.model_dump(mode="json"))
        if i % 100 == 99:
            await asyncio.sleep(0)  # a fleet's worth of checks must not hold the loop
    if wrong:
        raise InvalidError(wrong[:MAX_PROBLEMS] + more(len(wrong) - MAX_PROBLEMS))
    versions = await storage.set_device_configs(changed)
    channels = request.app[CHANNELS]
    for device in targets:
        new = replace(device, config=changed[device.id][1], config_version=versions[device.id])
        await channels.push_config(new)
    return web.json_response({"updated": len(versions), "config_versions": versions})


def more(count: int) -> list[str]:
    return [f"... and {count} more"] if count > 0 else []


async def all_devices(storage: Storage, clinic_id: str) -> list[DeviceRecord]:
    devices: list[DeviceRecord] = []
    after = None
    while page := await storage.devices_page(clinic_id, after, BULK_PAGE):
        devices += page
        after = page[-1].position
    return devices


@routes.post("/api/v1/devices/{device_id}/commands")
async def send_command(request: web.Request) -> web.Response:
    _, device = await admin_device(request)
    body = await parse_body(request, NewCommand)
    storage = request.app[STORAGE]
    command_id = await storage.add_command(device.id, body.action)
    delivered = await request.app[CHANNELS].send(
        device.id, command_message(command_id, body.action)
    )
    if not delivered:
        await storage.answer_command(device.id, command_id, False, "device offline")
    return web.json_response({"command_id": command_id}, status=201)


@routes.get("/api/v1/devices/{device_id}/commands/{command_id}")
async def get_command(request: web.Request) -> web.Response:
    _, device = await admin_device(request)
    command = await request.app[STORAGE].command(request.match_info["command_id"])
    if command is None or command.device_id != device.id:
        raise NotFoundError("no such command")
    return web.json_response(
        {
            "command_id": command.id,
            "action": command.action,
            "created_at": iso(command.created_at),
            "ok": command.ok,
            "message": command.message,
        }
    )


@routes.delete("/api/v1/devices/{device_id}")
async def revoke(request: web.Request) -> web.Response:
    _, device = await admin_device(request)
    await request.app[STORAGE].revoke_device(device.id)
    bus = request.app.get(BUS)
    if bus is None:
        await revoke_here(request.app, device)
    else:  # every process: where its channel, its calls and its LAN hosts are
        await bus.broadcast("device_revoked", device=dataclasses.asdict(device))
    return web.json_response({"device_id": device.id, "revoked": True})


async def revoke_here(app: web.Application, device: DeviceRecord | dict[str, Any]) -> None:
    """At once: its channel closes, it leaves any call it is in, and the clinic's LAN
    hosts are told."""
    if isinstance(device, dict):
        device = DeviceRecord(**device)
    device_id = device.id
    await app[CHANNELS].close(device_id, CLOSE_REVOKED, "revoked")
    await app[HUB].kick(lambda claims: claims.subject == device_id, CLOSE_REVOKED, "revoked")
    await app[CHANNELS].revoked(device)


@routes.post("/api/v1/enroll")
async def enroll(request: web.Request) -> web.Response:
    # counted before any await, so concurrent guesses cannot all pass the check
    attempt = await request.app[LIMITS].enroll.take(client_address(request))
    body = await parse_body(request, Enrollment)
    token = new_secret()
    device = await request.app[STORAGE].enroll(
        secret_hash(normalise_code(body.enrollment_code)),
        secret_hash(token),
        body.hardware.model_dump(),
    )
    if device is None:
        raise InvalidCodeError("the enrollment code is wrong, used or expired")
    attempt.succeeded()
    return web.json_response(
        {
            "device_id": device.id,
            "device_token": token,
            "clinic_id": device.clinic_id,
            "config": device.config,
            "config_version": device.config_version,
        }
    )


@routes.get("/api/v1/device/channel")
async def channel(request: web.Request) -> web.StreamResponse:
    storage = request.app[STORAGE]
    device = await authenticate_device(request)
    return await request.app[CHANNELS].serve(request, storage, device)


class AlertWebhook(BaseModel):
    url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


@routes.put("/api/v1/clinics/{clinic_id}/alert-webhook")
async def set_alert_webhook(request: web.Request) -> web.Response:
    clinic_id = await clinic_admin(request, "set its alert webhook")
    body = await parse_body(request, AlertWebhook)
    if body.url is not None:
        try:
            await check_url(body.url, request.app[CHANNELS].alerts.webhook_networks)
        except WebhookTargetError as exc:
            raise InvalidError([f"url: {exc}"]) from None
    await request.app[STORAGE].set_alert_webhook(clinic_id, body.url)
    return web.json_response({"url": body.url})
