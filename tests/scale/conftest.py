"""Several `clinic serve --redis` processes on one PostgreSQL database and one Redis, as
an operator scales out; loopback only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.clinic_server import ClinicFixture, clinic_server_at, free_port
from tests.postgres import Cluster
from tests.processes import ClinicProcess
from tests.redis_server import RedisServer


@dataclass
class Scaled:
    """A clinic served by ``processes``; ``clinic``'s accounts are logged in."""

    db: str
    redis: RedisServer
    clinic: ClinicFixture
    session: aiohttp.ClientSession
    tmp: Path
    args: tuple[str, ...] = ()  # more `clinic serve` flags for every process
    processes: list[ClinicProcess] = field(default_factory=list)

    async def add_process(self) -> ClinicProcess:
        n = len(self.processes)
        args = ("--redis", self.redis.url, *self.args)
        process = ClinicProcess(self.db, free_port(), args, log=self.tmp / f"clinic-{n}.log")
        self.processes.append(process)
        await process.start()
        return process

    async def call(
        self, i: int, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = self.processes[i].url + "/api/v1" + path
        async with self.session.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def ok(
        self, i: int, method: str, path: str, token: str | None = None, body: Any = None
    ) -> Any:
        status, data = await self.call(i, method, path, token, body)
        assert status in (200, 201), (status, data)
        return data

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log}:\n{p.log.read_text()[-3000:]}" for p in self.processes if p.log
        )


ScaledFactory = Callable[..., Awaitable[Scaled]]


@pytest.fixture
async def scaled(
    tmp_path: Path, postgres: Cluster, redis_server: RedisServer
) -> AsyncIterator[ScaledFactory]:
    """``scaled(n, args)``: a clinic (made through the API) served by n processes."""
    made: list[Scaled] = []
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(n: int, args: tuple[str, ...] = ()) -> Scaled:
            db = await postgres.new_database()
            async with clinic_server_at(db) as server:
                fixture = await server.make_clinic("Scaled clinic")
            scaled = Scaled(db, redis_server, fixture, session, tmp_path, args)
            made.append(scaled)
            for _ in range(n):
                await scaled.add_process()
            return scaled

        try:
            yield make
        finally:
            for scaled in made:
                for process in scaled.processes:
                    process.kill()
