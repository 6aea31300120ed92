"""A real clinic service on a loopback port, and helpers to act as its users."""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from clinic import service
from clinic.app import Options, build_app
from clinic.principals import MemberRole, RoomKind
from clinic.storage import Storage


@contextlib.contextmanager
def statements(storage: Storage, kind: str) -> Iterator[list[str]]:
    """The SQL statements starting with ``kind`` (e.g. "SELECT", "UPDATE devices") that the
    service sends to its database while inside."""
    seen: list[str] = []
    prefix = kind.upper()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(prefix):
            seen.append(statement)

    engine = storage._engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Account:
    id: str
    email: str
    password: str
    token: str = ""


@dataclass
class ClinicFixture:
    clinic_id: str
    admin: Account
    member: Account
    other_member: Account
    meeting_room: str
    user_room: str  # owned by `member`
    waiting_area: str


@dataclass
class ClinicServer:
    url: str
    storage: Storage
    app: web.Application
    session: aiohttp.ClientSession
    clinics: list[ClinicFixture] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)  # member name -> login token

    @property
    def signal_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/api/v1/signal"

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.url + "/api/v1" + path, json=body, headers=headers
        ) as response:
            return response.status, await response.json()

    async def ok(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        status, data = await self.call(method, path, token, body)
        assert status in (200, 201), (status, data)
        return data

    async def login(self, account: Account) -> str:
        data = await self.ok("POST", "/auth/login", body={
            "email": account.email, "password": account.password,
        })  # fmt: skip
        account.token = data["token"]
        return account.token

    async def named_member(self, clinic: ClinicFixture, name: str) -> str:
        """The login token of a team member called ``name`` (made on first use): peers see
        the name the clinic put in the join token (PROTOCOL.md section 6), so a test's
        participants are told apart by who they are."""
        if name not in self.named:
            account = Account("", f"{secrets.token_hex(4)}@example.org", secrets.token_urlsafe(12))
            await self.ok("POST", f"/clinics/{clinic.clinic_id}/members", clinic.admin.token, {
                "email": account.email, "name": name, "role": "team_member",
                "password": account.password,
            })  # fmt: skip
            self.named[name] = await self.login(account)
        return self.named[name]

    async def grant_for(self, clinic: ClinicFixture, name: str, room_id: str) -> dict[str, Any]:
        """A join grant into ``room_id`` for the team member called ``name``."""
        token = await self.named_member(clinic, name)
        grant: dict[str, Any] = await self.ok("POST", f"/rooms/{room_id}/join-token", token)
        return grant

    async def make_clinic(self, name: str = "Clinic") -> ClinicFixture:
        tag = secrets.token_hex(3)
        admin = Account("", f"admin-{tag}@example.org", secrets.token_urlsafe(12))
        admin.id = (await service.create_clinic(self.storage, name, admin.email, admin.password))[1]
        member_row = await self.storage.member(admin.id)
        assert member_row is not None
        clinic_id = member_row.clinic_id
        await self.login(admin)
        accounts = []
        for who in ("member", "other"):
            account = Account("", f"{who}-{tag}@example.org", secrets.token_urlsafe(12))
            created = await self.ok("POST", f"/clinics/{clinic_id}/members", admin.token, {
                "email": account.email, "name": who.title(), "role": "team_member",
                "password": account.password,
            })  # fmt: skip
            account.id = created["id"]
            await self.login(account)
            accounts.append(account)
        rooms = {r.kind: r.id for r in await self.storage.rooms(clinic_id)}
        meeting = await service.add_room(self.storage, clinic_id, RoomKind.MEETING_ROOM, "M1", None)
        user = await service.add_room(
            self.storage, clinic_id, RoomKind.USER_ROOM, "Own", accounts[0].id
        )
        fixture = ClinicFixture(
            clinic_id, admin, accounts[0], accounts[1], meeting, user, rooms[RoomKind.WAITING_AREA]
        )
        self.clinics.append(fixture)
        return fixture


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """``app`` on a free loopback port until the block ends; its base URL."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An alert webhook on loopback: its URL, and the alerts it has received so far."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serving(app) as url:
        yield f"{url}/hook", received


@contextlib.asynccontextmanager
async def clinic_server_at(
    db: Path | str, options: Options | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[ClinicServer]:
    storage = await Storage.open(db)
    app = build_app(storage, options)
    try:
        async with serving(app, host) as url, aiohttp.ClientSession() as session:
            yield ClinicServer(url, storage, app, session)
    finally:
        await storage.close()


@pytest.fixture
async def clinic_server(tmp_path: Path) -> AsyncIterator[ClinicServer]:
    async with clinic_server_at(tmp_path / "clinic.db") as server:
        yield server


@pytest.fixture
async def clinic(clinic_server: ClinicServer) -> ClinicFixture:
    return await clinic_server.make_clinic()


__all__ = ["Account", "ClinicFixture", "ClinicServer", "MemberRole"]
