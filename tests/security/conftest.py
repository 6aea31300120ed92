"""Attacks, each as a test (issue 18). A service behind a trusted proxy lets one test speak
from many client addresses (X-Forwarded-For), as a botnet would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clinic.app import Options
from tests.clinic_server import ClinicServer, clinic_server_at


@pytest.fixture
async def proxied_server(tmp_path: Path) -> AsyncIterator[ClinicServer]:
    """The service as run behind nginx on this machine (`--trusted-proxy 127.0.0.1`)."""
    options = Options(trusted_proxies=frozenset({"127.0.0.1"}))
    async with clinic_server_at(tmp_path / "clinic.db", options) as server:
        yield server


async def call_from(
    server: ClinicServer, address: str, method: str, path: str, body: Any = None
) -> tuple[int, Any, Mapping[str, str]]:
    """An API call as the proxy forwards it for a client at ``address``."""
    async with server.session.request(
        method, server.url + "/api/v1" + path, json=body, headers={"X-Forwarded-For": address}
    ) as response:
        return response.status, await response.json(), response.headers


async def join(
    server: ClinicServer | str, token: str, name: str | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any], aiohttp.ClientSession]:
    """A socket that sent `join`, the first answer, and the session to close after."""
    url = server if isinstance(server, str) else server.signal_url
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url, max_msg_size=0)
    message: dict[str, Any] = {"type": "join", "token": token}
    if name is not None:
        message["name"] = name
    await ws.send_str(json.dumps(message))
    return ws, json.loads((await ws.receive(timeout=10)).data), session
