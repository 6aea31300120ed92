"""Plumbing shared by the handlers: app state keys, body parsing, errors as contract JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from clinic.auth import Passwords, secret_hash
from clinic.bus.core import Bus
from clinic.consultations import Consultations
from clinic.device_channels import DeviceChannels
from clinic.errors import (
    ClinicError,
    ForbiddenError,
    InvalidError,
    RateLimitedError,
    UnauthorizedError,
)
from clinic.keys import ClinicKeys
from clinic.principals import Device, Member, Principal
from clinic.ratelimit import Limits, address_key, retry_after_header
from clinic.rules import is_clinic_admin
from clinic.storage import DeviceRecord, Storage
from kiosk.signalling.device_config import DeviceConfig
from kiosk.signalling.validation import problems

log = logging.getLogger(__name__)

STORAGE = web.AppKey("storage", Storage)
KEYS = web.AppKey("keys", ClinicKeys)
PASSWORDS = web.AppKey("passwords", Passwords)
PUBLIC_URL: web.AppKey[str | None] = web.AppKey("public_url")
CHANNELS = web.AppKey("device_channels", DeviceChannels)
BUS = web.AppKey("bus", Bus)  # only where several processes serve (`--redis`)
CONSULTATIONS = web.AppKey("consultations", Consultations)
LIMITS = web.AppKey("limits", Limits)
# proxies (nginx, a load balancer) whose X-Forwarded-For names the real client
TRUSTED_PROXIES: web.AppKey[frozenset[str]] = web.AppKey("trusted_proxies")

B = TypeVar("B", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure of an API call becomes the contract's error JSON, never a traceback."""
    try:
        return await handler(request)
    except RateLimitedError as exc:
        response = error_response(exc.status, exc.code, str(exc))
        response.headers["Retry-After"] = retry_after_header(exc.retry_after_s)
        return response
    except ClinicError as exc:
        return error_response(exc.status, exc.code, str(exc))
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        code = {404: "not_found", 405: "bad_method", 413: "too_large"}.get(exc.status, "error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "internal error; the service logged it")


# no inline script or style anywhere; media and signalling from this origin only
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On every page and API answer, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:  # a WebSocket is already upgraded
        response.headers.update(SECURITY_HEADERS)
    return response


def client_address(request: web.Request) -> str:
    """Who is asking, as a limit key: the peer, or what a trusted proxy says it is."""
    remote = request.remote
    if remote in request.app[TRUSTED_PROXIES]:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            remote = hops[-1]
    return address_key(remote)


async def parse_body(request: web.Request, model: type[B]) -> B:
    """The request's JSON body as ``model``; InvalidError lists every problem at once."""
    try:
        data: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidError(["body: not valid JSON"]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidError(problems(exc)) from None


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("an Authorization: Bearer <token> header is required")
    return token.strip()


async def authenticate(request: web.Request) -> Principal:
    """The member or device the bearer token belongs to."""
    token_hash = secret_hash(bearer(request))
    storage = request.app[STORAGE]
    member = await storage.member_by_session(token_hash)
    if member is not None:
        return member
    device = await storage.device_by_token(token_hash)
    if device is None:
        raise UnauthorizedError("the token is unknown, expired or revoked")
    rooms = DeviceConfig.model_validate(device.config).rooms()
    return Device(device.id, device.clinic_id, device.name, rooms)


async def clinic_admin(request: web.Request, doing: str) -> str:
    """The path's clinic, once the caller is shown to be one of its admins."""
    who = await authenticate(request)
    clinic_id = request.match_info["clinic_id"]
    if not is_clinic_admin(who, clinic_id):
        raise ForbiddenError(f"only a clinic admin of this clinic may {doing}")
    return clinic_id


async def authenticate_device(request: web.Request) -> DeviceRecord:
    """The enrolled, unrevoked device whose token the request carries."""
    device = await request.app[STORAGE].device_by_token(secret_hash(bearer(request)))
    if device is None:
        raise UnauthorizedError("unknown or revoked device token")
    return device


async def authenticate_member(request: web.Request) -> Member:
    who = await authenticate(request)
    if not isinstance(who, Member):
        raise UnauthorizedError("this call needs a member's login token")
    return who


def iso(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def public_base(request: web.Request) -> str:
    """The service's public base URL: configured, or as this request reached it."""
    configured = request.app[PUBLIC_URL]
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def signal_url(request: web.Request) -> str:
    base = public_base(request)
    return "ws" + base.removeprefix("http") + "/api/v1/signal"
