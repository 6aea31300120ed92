"""The database's schema: made on first start, an older one brought up to date with its
data, a newer one refused with a clear error; `clinic init/serve --db` take a SQLite file
or a postgresql:// URL (PROTOCOL.md section 6). On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from clinic import service
from clinic.storage import SCHEMA_VERSION, DatabaseError, Storage
from tests.postgres import DATABASES, database_for


@pytest.fixture(params=DATABASES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    return await database_for(request, tmp_path)


async def version_and_indexes(storage: Storage) -> tuple[int, set[str]]:
    async with storage._engine.connect() as conn:
        version = (await conn.execute(sa.text("SELECT version FROM schema_version"))).scalar_one()
        indexes = await conn.run_sync(
            lambda c: {
                i["name"]
                for table in ("patients", "devices")
                for i in sa.inspect(c).get_indexes(table)
            }
        )
    return int(version), indexes


async def test_a_v1_database_is_brought_up_to_date_with_its_data(database: str | Path) -> None:
    storage = await Storage.open(database)
    clinic_id, _ = await service.create_clinic(
        storage, "Old clinic", "admin@old.example", "a long password"
    )
    await storage.add_patient(clinic_id, "Ann")
    # as the service left it before versioning: no version table, no later index
    async with storage._engine.begin() as conn:
        await conn.execute(sa.text("DROP INDEX patients_waiting"))
        await conn.execute(sa.text("DROP INDEX devices_listed"))
        for column in ("connected", "away_since", "with_names"):
            await conn.execute(sa.text(f"ALTER TABLE patients DROP COLUMN {column}"))
        await conn.execute(sa.text("DROP TABLE schema_version"))
    await storage.close()

    storage = await Storage.open(database)
    try:
        version, indexes = await version_and_indexes(storage)
        assert version == SCHEMA_VERSION == 4
        assert {"patients_waiting", "devices_listed"} <= indexes
        # a patient of before presence has the grace to connect from the upgrade on
        assert [p.name for p in await storage.waiting_patients(clinic_id, 60)] == ["Ann"]
        assert await storage.waiting_patients(clinic_id, -1) == []
        assert await storage.member_for_login("admin@old.example") is not None
    finally:
        await storage.close()
    storage = await Storage.open(database)  # and again: nothing left to do
    await storage.close()


async def test_a_database_of_a_newer_service_is_refused(database: str | Path) -> None:
    storage = await Storage.open(database)
    async with storage._engine.begin() as conn:
        await conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    await storage.close()
    with pytest.raises(DatabaseError, match="schema version 99"):
        await Storage.open(database)


async def test_clinic_init_takes_a_database_url_or_a_path(database: str | Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "clinic.cli", "init", "--db", str(database), "--clinic", "C",
         "--admin-email", "a@c.example", "--admin-password", "a long password"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    clinic_id = json.loads(done.stdout)["clinic_id"]
    storage = await Storage.open(database)
    try:
        assert await storage.clinic_exists(clinic_id)
    finally:
        await storage.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "clinic.cli", "serve", "--db",
         "postgresql://clinic:secret@127.0.0.1:9/none", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(
        "clinic: cannot open the database postgresql+asyncpg://clinic:***@"
    )
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr
