"""All of the clinic service's storage: the schema and every query, in one place.

SQLAlchemy Core on asyncio: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL.
Every write is one transaction. Secrets (passwords, tokens, codes) are stored as hashes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

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
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class WaitingPatient:
    patient_id: str
    name: str
    waiting_since: float
    room_id: str


@dataclass(frozen=True, slots=True)
class PatientRecord:
    id: str
    clinic_id: str
    room_id: str
    name: str
    status: str


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
    text = str(path_or_url)
    return text if "://" in text else f"sqlite+aiosqlite:///{text}"


class Storage:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, path_or_url: str | Path) -> Storage:
        """Open the database and create the schema on first start."""
        engine = create_async_engine(database_url(path_or_url))
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine.sync_engine, "connect")
            def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
                cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
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

    async def clinic_exists(self, clinic_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(sa.select(clinics.c.id).where(clinics.c.id == clinic_id))
        return found is not None

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

    async def member_email(self, member_id: str) -> str | None:
        async with self._engine.connect() as conn:
            email: str | None = await conn.scalar(
                sa.select(members.c.email).where(members.c.id == member_id)
            )
        return email

    async def create_session(self, member_id: str, token_hash: str, expires_at: float) -> None:
        async with self._engine.begin() as conn:
            # expired sessions are cleaned up whenever someone logs in
            await conn.execute(sessions.delete().where(sessions.c.expires_at < time.time()))
            await conn.execute(
                sessions.insert().values(
                    token_hash=token_hash, member_id=member_id, expires_at=expires_at
                )
            )

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
                )
            )
        return PatientRecord(patient_id, clinic_id, room_id, name, "waiting")

    async def patient(self, patient_id: str) -> PatientRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(patients).where(patients.c.id == patient_id))
            ).first()
        if row is None:
            return None
        m = row._mapping
        return PatientRecord(m["id"], m["clinic_id"], m["room_id"], m["name"], m["status"])

    async def waiting_patients(self, clinic_id: str) -> list[WaitingPatient]:
        query = (
            sa.select(patients)
            .where(patients.c.clinic_id == clinic_id, patients.c.status == "waiting")
            .order_by(patients.c.waiting_since)
        )
        async with self._engine.connect() as conn:
            return [
                WaitingPatient(r.id, r.name, r.waiting_since, r.room_id)
                for r in await conn.execute(query)
            ]

    async def set_patient_status(self, patient_id: str, status: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                patients.update().where(patients.c.id == patient_id).values(status=status)
            )
