"""The admin's device list a page at a time, filtered by online / offline / problem; the
v1 call without paging answers the whole list as before."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import pytest
from yarl import URL

from clinic import device_list
from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.fallback.test_clinic_grants import enrolled, next_config
from tests.management.test_enrollment_api import new_device


async def listing(server: ClinicServer, token: str, path: str) -> tuple[list[Any], str | None]:
    """One page, and the path of the next (from the Link header)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with server.session.get(server.url + path, headers=headers) as response:
        assert response.status == 200, await response.text()
        following = response.links.get("next")
        nxt = None if following is None else str(URL(str(following["url"])).relative())
        return await response.json(), nxt


async def every_page(server: ClinicServer, token: str, path: str) -> list[list[str]]:
    pages: list[list[str]] = []
    next_path: str | None = path
    while next_path is not None:
        page, next_path = await listing(server, token, next_path)
        pages.append([d["name"] for d in page])
        assert len(pages) < 50
    return pages


@pytest.fixture
async def fleet(clinic_server: ClinicServer, clinic: ClinicFixture) -> Any:
    """Seven devices: 0-2 connected (1 with a missing camera), 3-4 enrolled, 5-6 not."""
    tokens = {}
    for i in range(7):
        if i < 5:
            _, tokens[i] = await enrolled(clinic_server, clinic, f"box {i}")
        else:
            await new_device(clinic_server, clinic, f"box {i}")
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    async with AsyncExitStack() as stack:
        for i in range(3):
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            ws = await stack.enter_async_context(
                clinic_server.session.ws_connect(url, headers=headers)
            )
            await next_config(ws)
            camera = "missing" if i == 1 else "ok"
            await ws.send_str(json.dumps({"type": "heartbeat", "state": "idle",
                                          "peripherals": {"camera": camera}}))  # fmt: skip
            await ws.send_str(json.dumps({"type": "bogus"}))  # answered after the heartbeat
            await ws.receive_json(timeout=5)
        yield


NAMES = [f"box {i}" for i in range(7)]


async def test_pages_cover_the_list_once_in_order(
    clinic_server: ClinicServer, clinic: ClinicFixture, fleet: None
) -> None:
    base = f"/api/v1/clinics/{clinic.clinic_id}/devices"
    admin = clinic.admin.token
    whole, nxt = await listing(clinic_server, admin, base)  # v1: everything, no link
    assert [d["name"] for d in whole] == NAMES
    assert nxt is None
    assert await every_page(clinic_server, admin, base + "?limit=3") == [
        NAMES[:3],
        NAMES[3:6],
        NAMES[6:],
    ]

    # a device added while the admin pages through is neither missed nor listed twice
    first, nxt = await listing(clinic_server, admin, base + "?limit=4")
    await new_device(clinic_server, clinic, "box 7")
    assert nxt is not None
    rest = await every_page(clinic_server, admin, nxt)
    later = [name for page in rest for name in page]
    assert [d["name"] for d in first] + later == [*NAMES, "box 7"]


async def test_the_filters_pick_online_offline_and_problem_devices(
    clinic_server: ClinicServer, clinic: ClinicFixture, fleet: None
) -> None:
    base = f"/api/v1/clinics/{clinic.clinic_id}/devices"
    admin = clinic.admin.token
    assert await every_page(clinic_server, admin, base + "?state=online") == [NAMES[:3]]
    assert await every_page(clinic_server, admin, base + "?state=offline") == [NAMES[3:]]
    assert await every_page(clinic_server, admin, base + "?state=problem") == [["box 1"]]
    paged = await every_page(clinic_server, admin, base + "?state=online&limit=2")
    assert paged == [NAMES[:2], NAMES[2:3]]


async def test_a_filter_reads_a_bounded_number_of_rows_per_page(
    clinic_server: ClinicServer, clinic: ClinicFixture, fleet: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rare state in a large fleet: each request stops after SCAN_ROWS rows, with a
    short (even empty) page and a link that goes on from there."""
    monkeypatch.setattr(device_list, "SCAN_ROWS", 2)
    monkeypatch.setattr(device_list, "BATCH_ROWS", 2)
    base = f"/api/v1/clinics/{clinic.clinic_id}/devices"
    pages = await every_page(clinic_server, clinic.admin.token, base + "?state=offline&limit=10")
    assert len(pages) == 4  # 7 rows, 2 at a time
    assert [name for page in pages for name in page] == NAMES[3:]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("limit=0", "limit: a whole number from 1 to 500"),
        ("limit=501", "limit: a whole number from 1 to 500"),
        ("limit=ten", "limit: a whole number from 1 to 500"),
        ("cursor=bm9wZQ", "cursor: not a cursor this service gave"),
        ("cursor=%%%", "cursor: not a cursor this service gave"),
        ("state=asleep", "state: one of online, offline, problem"),
    ],
)
async def test_bad_paging_is_a_clear_error(
    clinic_server: ClinicServer, clinic: ClinicFixture, query: str, problem: str
) -> None:
    status, answer = await clinic_server.call(
        "GET", f"/clinics/{clinic.clinic_id}/devices?{query}", clinic.admin.token
    )
    assert status == 422
    assert problem in answer["error"]["message"]
