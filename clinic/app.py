"""The clinic service as one aiohttp application: API, signalling and web pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from clinic.alerts import Alerts
from clinic.auth import Passwords
from clinic.bus.core import Bus
from clinic.bus.devices import DeviceBus
from clinic.bus.limits import shared_limits
from clinic.bus.rooms import RedisRooms
from clinic.consultations import GRACE_S, Consultations
from clinic.device_channels import DeviceChannels
from clinic.handlers import accounts, devices, rooms, waiting
from clinic.keys import ClinicKeys
from clinic.ratelimit import Limits
from clinic.storage import Storage
from clinic.turn import IceConfig
from clinic.web import (
    BUS,
    CHANNELS,
    CONSULTATIONS,
    KEYS,
    LIMITS,
    PASSWORDS,
    PUBLIC_URL,
    STORAGE,
    TRUSTED_PROXIES,
    client_address,
    errors_as_json,
    security_headers,
)
from clinic.webhooks import Network
from kiosk.signalling.hub import Hub
from kiosk.signalling.server import add_signalling

STATIC = Path(str(resources.files("clinic") / "static"))

# page path -> file in clinic/static
PAGES = {
    "/": "index.html",
    "/rooms": "rooms.html",
    "/waiting": "waiting.html",
    "/guest": "guest.html",
    "/enter/{clinic_id}": "enter.html",
    "/admin": "admin.html",
}


@dataclass(frozen=True)
class Options:
    """How an operator runs the service (`clinic serve` flags)."""

    public_url: str | None = None
    ice: IceConfig = field(default_factory=IceConfig)
    # proxies whose X-Forwarded-For names the client (limits count the client, not them)
    trusted_proxies: frozenset[str] = frozenset()
    # private networks an alert webhook may reach (an on-premises receiver)
    webhook_networks: tuple[Network, ...] = ()
    # one of several processes sharing rooms, devices, presence and limits (`--redis`)
    redis_url: str | None = None
    # how long a patient's page has to connect, or to come back (PROTOCOL.md: 60 s)
    waiting_grace_s: float = GRACE_S


def build_app(storage: Storage, options: Options | None = None) -> web.Application:
    options = options or Options()
    app = web.Application(
        middlewares=[security_headers, errors_as_json], client_max_size=256 * 1024
    )
    keys = ClinicKeys(storage)
    app[STORAGE] = storage
    app[KEYS] = keys
    app[PASSWORDS] = Passwords()
    app[PUBLIC_URL] = options.public_url
    rooms_elsewhere: RedisRooms | None = None
    devices_elsewhere: DeviceBus | None = None
    app[LIMITS] = Limits()
    if options.redis_url is not None:
        bus = app[BUS] = Bus(options.redis_url)
        rooms_elsewhere, devices_elsewhere = RedisRooms(bus), DeviceBus(bus)
        app[LIMITS] = shared_limits(bus)
        bus.on("device_revoked", lambda data: devices.revoke_here(app, data["device"]))
        app.cleanup_ctx.append(_on_the_bus)
        app.on_shutdown.append(_retire)  # before the sockets close (add_signalling's)
    alerts = Alerts(storage, options.webhook_networks, devices_elsewhere)
    grace_s = options.waiting_grace_s
    channels = app[CHANNELS] = DeviceChannels(alerts, storage, keys, devices_elsewhere, grace_s)
    consultations = app[CONSULTATIONS] = Consultations(storage, channels.waiting.changed, grace_s)
    app[TRUSTED_PROXIES] = options.trusted_proxies
    app.add_routes(accounts.routes)
    app.add_routes(devices.routes)
    app.add_routes(rooms.routes)
    app.add_routes(waiting.routes)
    hub = Hub(
        keys.verify_join,
        ice_servers=options.ice.ice_servers,
        listener=consultations,
        resume_secret=keys.resume_secret,
        federation=rooms_elsewhere,
    )
    add_signalling(app, hub, client_address)
    for path, filename in PAGES.items():
        app.router.add_get(path, _page_handler(filename))
    app.router.add_static("/static", STATIC)
    app.router.add_get("/favicon.ico", _favicon)  # what browsers ask for by themselves
    app.cleanup_ctx.append(_consultations_worker)
    app.cleanup_ctx.append(_background("alerts", lambda app: app[CHANNELS].alerts.run()))
    app.cleanup_ctx.append(_background("presence", lambda app: app[CHANNELS].presence.run()))
    app.on_shutdown.append(_close_device_channels)
    return app


def _background(
    name: str, work: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A task that runs ``work`` while the app serves, cancelled at cleanup."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(work(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


async def _on_the_bus(app: web.Application) -> AsyncIterator[None]:
    await app[BUS].start()
    yield
    await app[BUS].stop()


async def _retire(app: web.Application) -> None:
    await app[BUS].retire()


async def _close_device_channels(app: web.Application) -> None:
    await app[CHANNELS].close_all()


async def _favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


def _page_handler(filename: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / filename, headers={"Cache-Control": "no-cache"})

    return serve


async def _consultations_worker(app: web.Application) -> AsyncIterator[None]:
    app[CONSULTATIONS].start()
    yield
    await app[CONSULTATIONS].stop()
