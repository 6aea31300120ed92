"""All of the clinic service's storage: the schema and every query, in one place.

SQLAlchemy Core on asyncio: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL.
Every write is one transaction. Secrets (passwords, tokens, codes) are stored as hashes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from clinic.errors import ConflictError, NotFoundError
from clinic.principals import Guest, Member, MemberRole, Room, RoomKind

metadata = sa.MetaData()

clinics = sa.Table(
    "clinics",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("signing_key", sa.LargeBinary, nullable=False),  # Ed25519, PKCS#8 PEM
    sa.Column("alert_webhook", sa.String, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id"), nullable=False, index=True),
    sa.Column("email", sa.String, nullable=False, unique=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("password_hash", sa.String, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String, primary_key=True),
    sa.Column("member_id", sa.ForeignKey("members.id"), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id"), nullable=False, index=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("owner_id", sa.String, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
# one user room per member, and one waiting area per clinic, enforced by the database
sa.Index(
    "one_user_room_per_member",
    rooms.c.owner_id,
    unique=True,
    sqlite_where=rooms.c.kind == RoomKind.USER_ROOM.value,
    postgresql_where=rooms.c.kind == RoomKind.USER_ROOM.value,
)
sa.Index(
    "one_waiting_area_per_clinic",
    rooms.c.clinic_id,
    unique=True,
    sqlite_where=rooms.c.kind == RoomKind.WAITING_AREA.value,
    postgresql_where=rooms.c.kind == RoomKind.WAITING_AREA.value,
)

guest_links = sa.Table(
    "guest_links",
    metadata,
    sa.Column("token_hash", sa.String, primary_key=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id"), nullable=False),
    sa.Column("invited_by", sa.ForeignKey("members.id"), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

patients = sa.Table(
    "patients",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id"), nullable=False, index=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("waiting_since", sa.Float, nullable=False),
    sa.Column("status", sa.String, nullable=False),  # waiting | in_consultation | ended
    # (schema version 4) whether their page holds a session in their space, and since when
    # it has not (from `enter` until it first connects, too): PROTOCOL.md section 6
    sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("away_since", sa.Float, nullable=True),
    sa.Column("with_names", sa.String, nullable=False, server_default=""),  # who is with them
)
# the waiting list of a clinic (schema version 2)
_patients_waiting = sa.Index("patients_waiting", patients.c.clinic_id, patients.c.status)


devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id"), nullable=False, index=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("code_hash", sa.String, nullable=True, unique=True),  # null once used
    sa.Column("code_expires_at", sa.Float, nullable=False),
    sa.Column("token_hash", sa.String, nullable=True, unique=True),
    sa.Column("enrolled_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("hardware", sa.JSON, nullable=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("config_version", sa.Integer, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=True),
    sa.Column("status", sa.JSON, nullable=True),  # the last heartbeat
    sa.Column("created_at", sa.Float, nullable=False),
)

# a clinic's device list, a page at a time (schema version 3)
_devices_listed = sa.Index(
    "devices_listed", devices.c.clinic_id, devices.c.created_at, devices.c.id
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("device_id", sa.ForeignKey("devices.id"), nullable=False, index=True),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=True),  # null until the device answers
    sa.Column("message", sa.String, nullable=True),
    sa.Column("answered_at", sa.Float, nullable=True),
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class WaitingPatient:
    patient_id: str
    name: str
    waiting_since: float
    room_id: str
    state: str = "waiting"  # or in_consultation
    connected: bool = True
    with_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: str
    clinic_id: str
    name: str
    enrolled: bool
    revoked: bool
    config: dict[str, Any]
    config_version: int
    last_seen: float | None
    status: dict[str, Any] | None
    hardware: dict[str, Any] | None
    created_at: float = 0.0

    @property
    def position(self) -> DevicePosition:
        """Where the device stands in its clinic's list (oldest first)."""
        return (self.created_at, self.id)


# (created_at, id): a device list's order, and a page cursor's place in it
DevicePosition = tuple[float, str]


@dataclass(frozen=True, slots=True)
class CommandRecord:
    id: str
    device_id: str
    action: str
    created_at: float
    ok: bool | None
    message: str | None


def _device(row: sa.Row[tuple[object, ...]]) -> DeviceRecord:
    m = row._mapping
    return DeviceRecord(
        id=m["id"],
        clinic_id=m["clinic_id"],
        name=m["name"],
        enrolled=m["enrolled_at"] is not None,
        revoked=m["revoked_at"] is not None,
        config=m["config"],
        config_version=m["config_version"],
        last_seen=m["last_seen"],
        status=m["status"],
        hardware=m["hardware"],
        created_at=m["created_at"],
    )


@dataclass(frozen=True, slots=True)
class PatientRecord:
    id: str
    clinic_id: str
    room_id: str
    name: str
    status: str
    connected: bool = False
    away_since: float | None = None

    def present(self, now: float, grace_s: float) -> bool:
        """Still in the waiting area: their page is connected, or was within the grace."""
        if self.status == "ended":
            return False
        return self.connected or (self.away_since is not None and now - self.away_since <= grace_s)


def _room(row: sa.Row[tuple[object, ...]]) -> Room:
    m = row._mapping
    return Room(
        id=m["id"],
        clinic_id=m["clinic_id"],
        kind=RoomKind(m["kind"]),
        name=m["name"],
        owner_id=m["owner_id"],
    )


def _member(row: sa.Row[tuple[object, ...]]) -> Member:
    m = row._mapping
    return Member(id=m["id"], clinic_id=m["clinic_id"], role=MemberRole(m["role"]), name=m["name"])


def database_url(path_or_url: str | Path) -> str:
    """SQLAlchemy's URL for a file path (SQLite) or a database URL (PROTOCOL.md section 6)."""
    text = str(path_or_url)
    for scheme in ("postgresql://", "postgres://"):
        if text.startswith(scheme):
            return "postgresql+asyncpg://" + text.removeprefix(scheme)
    return text if "://" in text else f"sqlite+aiosqlite:///{text}"


class DatabaseError(RuntimeError):
    """A database this service cannot open or use (unreachable, made by a newer version,
    no driver); the message says which and what to do."""


# Version 1 is the schema before versioning (such a database has no schema_version table);
# each later version is one function that brings the one before it up to date.
def _v2_waiting_index(conn: sa.Connection) -> None:
    _patients_waiting.create(conn)


def _v3_device_list_index(conn: sa.Connection) -> None:
    _devices_listed.create(conn)


def _v4_waiting_presence(conn: sa.Connection) -> None:
    # a patient listed before presence was kept counts as away since now: the grace to
    # connect applies from the upgrade on
    for column in (
        "connected BOOLEAN NOT NULL DEFAULT FALSE",
        "away_since FLOAT",
        "with_names VARCHAR NOT NULL DEFAULT ''",
    ):
        conn.execute(sa.text(f"ALTER TABLE patients ADD COLUMN {column}"))
    conn.execute(patients.update().values(away_since=time.time()))


MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {
    2: _v2_waiting_index,
    3: _v3_device_list_index,
    4: _v4_waiting_presence,
}
SCHEMA_VERSION = max(MIGRATIONS)

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)


def _migrate(conn: sa.Connection) -> int:
    """Create the schema, or bring an older one up to date; the version it was at."""
    tables = set(sa.inspect(conn).get_table_names())
    if "clinics" not in tables:
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    if "schema_version" not in tables:
        schema_version.create(conn)
        conn.execute(schema_version.insert().values(version=1))
    found = int(conn.execute(sa.select(schema_version.c.version)).scalar_one())
    if found > SCHEMA_VERSION:
        raise DatabaseError(
            f"the database is at schema version {found}; this service knows up to "
            f"{SCHEMA_VERSION}: run the newer version of the clinic service"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](conn)
        conn.execute(schema_version.update().values(version=version))
    return found


class Storage:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, path_or_url: str | Path) -> Storage:
        """Open the database: create the schema on first start, migrate an older one."""
        try:
            engine = create_async_engine(database_url(path_or_url))
        except ModuleNotFoundError as exc:  # asyncpg: the `postgres` extra
            raise DatabaseError(
                f"{exc.name} is needed for this database: pip install 'clinic-kiosk[postgres]'"
            ) from None
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine.sync_engine, "connect")
            def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
                cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

        try:
            async with engine.begin() as conn:
                await conn.run_sync(_migrate)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            await engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise DatabaseError(f"cannot open the database {where}: {exc}") from exc
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    # ---- clinics ----------------------------------------------------------------------

    async def create_clinic(self, name: str, signing_key_pem: bytes) -> tuple[str, str]:
        """A clinic and its one waiting area; returns (clinic_id, waiting_area_id)."""
        clinic_id, waiting_id, now = new_id("cl"), new_id("rm"), time.time()
        async with self._engine.begin() as conn:
            await conn.execute(
                clinics.insert().values(
                    id=clinic_id, name=name, signing_key=signing_key_pem, created_at=now
                )
            )
            await conn.execute(
                rooms.insert().values(
                    id=waiting_id,
                    clinic_id=clinic_id,
                    kind=RoomKind.WAITING_AREA.value,
                    name="Waiting area",
                    owner_id=None,
                    created_at=now,
                )
            )
        return clinic_id, waiting_id

    async def clinic_signing_key(self, clinic_id: str) -> bytes | None:
        async with self._engine.connect() as conn:
            key: bytes | None = await conn.scalar(
                sa.select(clinics.c.signing_key).where(clinics.c.id == clinic_id)
            )
        return key

    async def alert_webhook(self, clinic_id: str) -> str | None:
        async with self._engine.connect() as conn:
            url: str | None = await conn.scalar(
                sa.select(clinics.c.alert_webhook).where(clinics.c.id == clinic_id)
            )
        return url

    async def set_alert_webhook(self, clinic_id: str, url: str | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                clinics.update().where(clinics.c.id == clinic_id).values(alert_webhook=url)
            )

    async def clinic_exists(self, clinic_id: str) -> bool:
        return await self.clinic_name(clinic_id) is not None

    async def clinic_name(self, clinic_id: str) -> str | None:
        async with self._engine.connect() as conn:
            name = await conn.scalar(sa.select(clinics.c.name).where(clinics.c.id == clinic_id))
        return None if name is None else str(name)

    # ---- members and sessions ---------------------------------------------------------

    async def create_member(
        self, clinic_id: str, email: str, name: str, role: MemberRole, password_hash: str
    ) -> Member:
        member_id = new_id("mb")
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    members.insert().values(
                        id=member_id,
                        clinic_id=clinic_id,
                        email=email.lower(),
                        name=name,
                        role=role.value,
                        password_hash=password_hash,
                        created_at=time.time(),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"the email {email} is taken") from exc
        return Member(id=member_id, clinic_id=clinic_id, role=role, name=name)

    async def member_for_login(self, email: str) -> tuple[Member, str] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(members).where(members.c.email == email.lower()))
            ).first()
        return None if row is None else (_member(row), row._mapping["password_hash"])

    async def member(self, member_id: str) -> Member | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(members).where(members.c.id == member_id))).first()
        return None if row is None else _member(row)

    async def members(self, clinic_id: str) -> list[tuple[Member, str]]:
        query = sa.select(members).where(members.c.clinic_id == clinic_id).order_by(members.c.name)
        async with self._engine.connect() as conn:
            return [(_member(row), row.email) for row in await conn.execute(query)]

    async def create_session(self, member_id: str, token_hash: str, expires_at: float) -> None:
        async with self._engine.begin() as conn:
            # expired sessions are cleaned up whenever someone logs in
            await conn.execute(sessions.delete().where(sessions.c.expires_at < time.time()))
            await conn.execute(
                sessions.insert().values(
                    token_hash=token_hash, member_id=member_id, expires_at=expires_at
                )
            )

    async def end_session(self, token_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

    async def member_by_session(self, token_hash: str) -> Member | None:
        query = (
            sa.select(members)
            .join(sessions, sessions.c.member_id == members.c.id)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > time.time())
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _member(row)

    # ---- rooms ------------------------------------------------------------------------

    async def rooms(self, clinic_id: str) -> list[Room]:
        query = (
            sa.select(rooms)
            .where(rooms.c.clinic_id == clinic_id, rooms.c.kind != RoomKind.PATIENT_SPACE.value)
            .order_by(rooms.c.created_at, rooms.c.name)
        )
        async with self._engine.connect() as conn:
            return [_room(row) for row in await conn.execute(query)]

    async def room_names(self, room_ids: set[str]) -> dict[str, str]:
        """Room id -> name, of those of ``room_ids`` that exist (one query)."""
        if not room_ids:
            return {}
        query = sa.select(rooms.c.id, rooms.c.name).where(rooms.c.id.in_(sorted(room_ids)))
        async with self._engine.connect() as conn:
            return {row.id: row.name for row in await conn.execute(query)}

    async def room(self, room_id: str) -> Room | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(rooms).where(rooms.c.id == room_id))).first()
        return None if row is None else _room(row)

    async def create_room(
        self, clinic_id: str, kind: RoomKind, name: str, owner_id: str | None
    ) -> Room:
        room = Room(new_id("rm"), clinic_id, kind, name, owner_id)
        try:
            async with self._engine.begin() as conn:
                if owner_id is not None:
                    owner = await conn.scalar(
                        sa.select(members.c.id).where(
                            members.c.id == owner_id, members.c.clinic_id == clinic_id
                        )
                    )
                    if owner is None:
                        raise NotFoundError(f"no member {owner_id} in this clinic")
                await conn.execute(
                    rooms.insert().values(
                        id=room.id,
                        clinic_id=clinic_id,
                        kind=kind.value,
                        name=name,
                        owner_id=owner_id,
                        created_at=time.time(),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"member {owner_id} already has a user room") from exc
        return room

    # ---- guest links ------------------------------------------------------------------

    async def create_guest_link(
        self, room_id: str, token_hash: str, invited_by: str, expires_at: float
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                guest_links.insert().values(
                    token_hash=token_hash,
                    room_id=room_id,
                    invited_by=invited_by,
                    expires_at=expires_at,
                )
            )

    async def guest(self, token_hash: str) -> Guest | None:
        query = (
            sa.select(guest_links.c.room_id, guest_links.c.invited_by, rooms.c.clinic_id)
            .join(rooms, rooms.c.id == guest_links.c.room_id)
            .where(guest_links.c.token_hash == token_hash, guest_links.c.expires_at > time.time())
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        return Guest(clinic_id=m["clinic_id"], room_id=m["room_id"], invited_by=m["invited_by"])

    # ---- the waiting area -------------------------------------------------------------

    async def add_patient(self, clinic_id: str, name: str) -> PatientRecord:
        """A new waiting patient and the private space made for them."""
        patient_id, room_id, now = new_id("pt"), new_id("rm"), time.time()
        async with self._engine.begin() as conn:
            await conn.execute(
                rooms.insert().values(
                    id=room_id,
                    clinic_id=clinic_id,
                    kind=RoomKind.PATIENT_SPACE.value,
                    name=f"Consultation with {name}",
                    owner_id=patient_id,
                    created_at=now,
                )
            )
            await conn.execute(
                patients.insert().values(
                    id=patient_id,
                    clinic_id=clinic_id,
                    room_id=room_id,
                    name=name,
                    waiting_since=now,
                    status="waiting",
                    away_since=now,  # the grace to connect starts now
                )
            )
        return PatientRecord(patient_id, clinic_id, room_id, name, "waiting", False, now)

    async def patient(self, patient_id: str) -> PatientRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(patients).where(patients.c.id == patient_id))
            ).first()
        if row is None:
            return None
        m = row._mapping
        return PatientRecord(
            m["id"], m["clinic_id"], m["room_id"], m["name"], m["status"], m["connected"],
            m["away_since"],
        )  # fmt: skip

    async def waiting_patients(self, clinic_id: str, grace_s: float) -> list[WaitingPatient]:
        """Who is in the waiting area: connected, or gone for at most ``grace_s``; the
        longest waiting first."""
        query = (
            sa.select(patients)
            .where(
                patients.c.clinic_id == clinic_id,
                patients.c.status.in_(("waiting", "in_consultation")),
                sa.or_(patients.c.connected, patients.c.away_since >= time.time() - grace_s),
            )
            .order_by(patients.c.waiting_since)
        )
        async with self._engine.connect() as conn:
            return [
                WaitingPatient(
                    r.id, r.name, r.waiting_since, r.room_id, r.status, r.connected,
                    tuple(n for n in r.with_names.split("\n") if n),
                )
                for r in await conn.execute(query)
            ]  # fmt: skip

    async def set_patient_status(
        self, patient_id: str, status: str, with_names: tuple[str, ...] = ()
    ) -> None:
        """A patient sent back to waiting waits from now (PROTOCOL.md section 6)."""
        values: dict[str, Any] = {"status": status, "with_names": "\n".join(with_names)}
        if status == "waiting":
            sent_back = patients.c.status == "in_consultation"
            values["waiting_since"] = sa.case((sent_back, time.time()),
                                              else_=patients.c.waiting_since)  # fmt: skip
        ours = sa.and_(patients.c.id == patient_id, patients.c.status != "ended")  # for good
        async with self._engine.begin() as conn:
            await conn.execute(patients.update().where(ours).values(values))

    async def set_patient_connected(self, patient_id: str, connected: bool) -> None:
        """Their page connected to their space, or went (the grace starts)."""
        away_since = None if connected else time.time()
        async with self._engine.begin() as conn:
            await conn.execute(
                patients.update()
                .where(patients.c.id == patient_id)
                .values(connected=connected, away_since=away_since)
            )

    # ---- devices ----------------------------------------------------------------------

    async def create_device(
        self, clinic_id: str, name: str, code_hash: str, code_expires_at: float,
        config: dict[str, Any],
    ) -> str:  # fmt: skip
        device_id = new_id("dv")
        async with self._engine.begin() as conn:
            await conn.execute(
                devices.insert().values(
                    id=device_id, clinic_id=clinic_id, name=name, code_hash=code_hash,
                    code_expires_at=code_expires_at, config=config, config_version=1,
                    created_at=time.time(),
                )
            )  # fmt: skip
        return device_id

    async def new_enrollment_code(self, device_id: str, code_hash: str, expires_at: float) -> bool:
        """A fresh code for a device never enrolled (the old one stops working); False if
        the device is enrolled or revoked."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                devices.update()
                .where(devices.c.id == device_id, devices.c.enrolled_at.is_(None),
                       devices.c.revoked_at.is_(None))
                .values(code_hash=code_hash, code_expires_at=expires_at)
            )  # fmt: skip
        return bool(done.rowcount)

    async def enroll(
        self, code_hash: str, token_hash: str, hardware: dict[str, Any]
    ) -> DeviceRecord | None:
        """Use a valid code once: the device gets its token. None for a wrong, used or
        expired code (one answer for all three)."""
        now = time.time()
        async with self._engine.begin() as conn:
            # single use even under concurrency: the update matches only an unused code
            result = await conn.execute(
                devices.update()
                .where(
                    devices.c.code_hash == code_hash,
                    devices.c.code_expires_at > now,
                    devices.c.revoked_at.is_(None),
                )
                .values(code_hash=None, token_hash=token_hash, enrolled_at=now, hardware=hardware)
                .returning(devices)
            )
            row = result.first()
        return None if row is None else _device(row)

    async def device(self, device_id: str) -> DeviceRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(devices).where(devices.c.id == device_id))).first()
        return None if row is None else _device(row)

    async def device_by_token(self, token_hash: str) -> DeviceRecord | None:
        query = sa.select(devices).where(
            devices.c.token_hash == token_hash, devices.c.revoked_at.is_(None)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _device(row)

    async def devices_page(
        self, clinic_id: str, after: DevicePosition | None, limit: int
    ) -> list[DeviceRecord]:
        """Up to ``limit`` unrevoked devices of the clinic that come after ``after`` in
        the list's order (one indexed range, whatever the clinic's size)."""
        query = sa.select(devices).where(
            devices.c.clinic_id == clinic_id, devices.c.revoked_at.is_(None)
        )
        if after is not None:
            query = query.where(sa.tuple_(devices.c.created_at, devices.c.id) > sa.tuple_(*after))
        query = query.order_by(devices.c.created_at, devices.c.id).limit(limit)
        async with self._engine.connect() as conn:
            return [_device(row) for row in await conn.execute(query)]

    async def devices_in_clinic(
        self, clinic_id: str, device_ids: set[str]
    ) -> dict[str, DeviceRecord]:
        """Those of ``device_ids`` that are unrevoked devices of the clinic (one indexed
        query, whatever the clinic's size)."""
        if not device_ids:
            return {}
        query = sa.select(devices).where(
            devices.c.clinic_id == clinic_id,
            devices.c.revoked_at.is_(None),
            devices.c.id.in_(sorted(device_ids)),
        )
        async with self._engine.connect() as conn:
            return {row.id: _device(row) for row in await conn.execute(query)}

    async def revoked_devices(self, clinic_id: str, since: float) -> list[str]:
        query = sa.select(devices.c.id).where(
            devices.c.clinic_id == clinic_id, devices.c.revoked_at >= since
        )
        async with self._engine.connect() as conn:
            return sorted(row.id for row in await conn.execute(query))

    async def set_device_config(self, device_id: str, config: dict[str, Any]) -> int:
        async with self._engine.begin() as conn:
            version: int = await conn.scalar(
                devices.update()
                .where(devices.c.id == device_id)
                .values(config=config, config_version=devices.c.config_version + 1)
                .returning(devices.c.config_version)
            )
        return version

    async def set_device_configs(
        self, configs: dict[str, tuple[int, dict[str, Any]]]
    ) -> dict[str, int]:
        """Many devices' new configs, each given with the version it replaces, in one
        transaction: each device's new version. ConflictError, and nothing changed, when
        any of them was changed meanwhile."""
        versions: dict[str, int] = {}
        async with self._engine.begin() as conn:
            for device_id, (version, config) in configs.items():
                new = await conn.scalar(
                    devices.update()
                    .where(devices.c.id == device_id, devices.c.config_version == version)
                    .values(config=config, config_version=version + 1)
                    .returning(devices.c.config_version)
                )
                if new is None:
                    raise ConflictError(
                        f"device {device_id} was changed or removed meanwhile: try again"
                    )
                versions[device_id] = new
        return versions

    async def record_heartbeats(self, seen: dict[str, tuple[float, dict[str, Any]]]) -> None:
        """Many devices' last word (when, what) in one transaction."""
        statement = (
            devices.update()
            .where(devices.c.id == sa.bindparam("device_id"))
            .values(last_seen=sa.bindparam("at"), status=sa.bindparam("said"))
        )
        rows = [{"device_id": d, "at": at, "said": status} for d, (at, status) in seen.items()]
        async with self._engine.begin() as conn:
            await conn.execute(statement, rows)

    async def revoke_device(self, device_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                devices.update()
                .where(devices.c.id == device_id)
                .values(revoked_at=time.time(), token_hash=None, code_hash=None)
            )

    async def add_command(self, device_id: str, action: str) -> str:
        command_id = new_id("cmd")
        async with self._engine.begin() as conn:
            await conn.execute(
                commands.insert().values(
                    id=command_id, device_id=device_id, action=action, created_at=time.time()
                )
            )
        return command_id

    async def answer_command(
        self, device_id: str, command_id: str, ok: bool, message: str | None
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                commands.update()
                .where(commands.c.id == command_id, commands.c.device_id == device_id)
                .values(ok=ok, message=message, answered_at=time.time())
            )

    async def command(self, command_id: str) -> CommandRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(commands).where(commands.c.id == command_id))
            ).first()
        if row is None:
            return None
        m = row._mapping
        return CommandRecord(
            m["id"], m["device_id"], m["action"], m["created_at"], m["ok"], m["message"]
        )
