"""Set-up and serving of the clinic service, shared by `clinic init`, `serve` and `demo`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from clinic.app import Options, build_app
from clinic.auth import Passwords
from clinic.errors import InvalidError
from clinic.models import NewMember
from clinic.principals import MemberRole, RoomKind
from clinic.storage import Storage
from kiosk.signalling import tokens
from kiosk.signalling.validation import problems

log = logging.getLogger(__name__)


async def create_clinic(
    storage: Storage, name: str, admin_email: str, admin_password: str, admin_name: str = "Admin"
) -> tuple[str, str]:
    """A clinic with its waiting area and first clinic admin: (clinic_id, admin_member_id)."""
    try:
        admin = NewMember(
            email=admin_email,
            name=admin_name,
            role=MemberRole.CLINIC_ADMIN,
            password=admin_password,
        )
    except ValidationError as exc:
        raise InvalidError(problems(exc, root="admin")) from None
    if not name.strip():
        raise InvalidError(["clinic: the clinic needs a name"])
    key = tokens.private_key_pem(tokens.new_signing_key())
    password_hash = await Passwords().hash(admin.password)
    clinic_id, _ = await storage.create_clinic(name.strip(), key)
    member = await storage.create_member(
        clinic_id, admin.email, admin.name, admin.role, password_hash
    )
    return clinic_id, member.id


async def add_member(
    storage: Storage, clinic_id: str, email: str, name: str, role: MemberRole, password: str
) -> str:
    member = await storage.create_member(
        clinic_id, email, name, role, await Passwords().hash(password)
    )
    return member.id


async def add_room(
    storage: Storage, clinic_id: str, kind: RoomKind, name: str, owner: str | None
) -> str:
    return (await storage.create_room(clinic_id, kind, name, owner)).id


async def serve(
    db: Path | str,
    host: str,
    port: int,
    options: Options | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; closes websockets first, then the database."""
    storage = await Storage.open(db)
    runner = web.AppRunner(build_app(storage, options), handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("clinic service on http://%s:%d", host, port)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await storage.close()
