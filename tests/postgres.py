"""A throwaway PostgreSQL cluster (Debian's postgresql) for the tests: its own data
directory under the session's tmp dir, its own port on 127.0.0.1, trust authentication;
one fresh database per test."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.clinic_server import ClinicServer, clinic_server_at, free_port


def _bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    if not found:
        pytest.fail("PostgreSQL is missing: apt-get install postgresql (./dev test does)")
    return found[-1].parent


class Cluster:
    def __init__(self, data: Path, port: int, run_as: list[str]) -> None:
        self.data, self.port, self._run_as = data, port, run_as
        self._bin = _bin()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._run_as, str(self._bin / tool), *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{tool}: {done.stdout}{done.stderr}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "clinic", "-A", "trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.data / "server.log"), "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    async def new_database(self) -> str:
        """A fresh, empty database; its URL as `clinic serve --db` takes it."""
        import asyncpg  # the `postgres` extra: not on every machine the tests run on

        name = f"t_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="clinic",
                                     database="postgres")  # fmt: skip
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql://clinic@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    with throwaway_cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A running cluster, removed afterwards (also for the fleet benchmark)."""
    # not under pytest's tmp dir, which only its owner may enter
    root = Path(tempfile.mkdtemp(prefix="clinic-postgres-"))
    root.chmod(0o755)
    data = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: as the package's own user
        user = pwd.getpwnam("postgres")
        data.mkdir()
        shutil.chown(data, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(data, free_port(), run_as)
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


DATABASES = ["sqlite", "postgresql"]


async def database_for(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A fresh database of the kind ``request.param`` names."""
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        return await cluster.new_database()
    return tmp_path / "clinic.db"


@pytest.fixture(params=DATABASES)
async def clinic_server_any(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ClinicServer]:
    """The clinic service on SQLite, then on PostgreSQL."""
    async with clinic_server_at(await database_for(request, tmp_path)) as server:
        yield server
