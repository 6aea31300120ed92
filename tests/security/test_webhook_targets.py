"""SSRF through the alert webhook: a clinic admin (a tenant) cannot make the service call
into its own network, at configuration or at delivery, and redirects are not followed."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from clinic.app import Options
from clinic.webhooks import WebhookClient, WebhookTargetError, check_url
from tests.clinic_server import ClinicFixture, ClinicServer, clinic_server_at, serving

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",  # a name that resolves to loopback
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/hook",
    "http://192.168.1.10/hook",
    "http://172.16.0.1/hook",
    "http://100.64.0.1/hook",  # shared address space
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "ftp://8.8.8.8/hook",
    "http://user:pass@8.8.8.8/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_an_internal_webhook_target_is_refused_at_configuration(
    clinic_server: ClinicServer, clinic: ClinicFixture, url: str
) -> None:
    status, body = await clinic_server.call(
        "PUT", f"/clinics/{clinic.clinic_id}/alert-webhook", clinic.admin.token, {"url": url}
    )
    assert status == 422, body
    assert body["error"]["code"] == "invalid"
    assert body["error"]["message"].startswith("url: ")


async def test_a_public_webhook_target_is_accepted(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    url = "https://8.8.8.8:8443/hook"  # a public address (nothing is sent: no device alerts)
    body = await clinic_server.ok(
        "PUT", f"/clinics/{clinic.clinic_id}/alert-webhook", clinic.admin.token, {"url": url}
    )
    assert body == {"url": url}
    with pytest.raises(WebhookTargetError, match="not a public address"):
        await check_url("https://203.0.113.9/hook")  # documentation space is not public


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/moved":
            raise web.HTTPTemporaryRedirect("/internal")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{name}", hook)
    async with serving(app) as url:
        yield url, hits


async def test_delivery_checks_the_address_it_connects_to(
    receiver: tuple[str, list[str]],
) -> None:
    """A target stored before (or that re-resolves after) the check is refused at connect
    time: `localhost` resolves to loopback only when the alert is sent."""
    url, hits = receiver
    port = url.rsplit(":", 1)[1]
    async with WebhookClient() as client:
        for target in (f"http://localhost:{port}/hook", f"{url}/hook"):
            with pytest.raises((WebhookTargetError, OSError)):
                await client.post(target, {"event": "test"})
    assert hits == []


async def test_redirects_are_not_followed(
    receiver: tuple[str, list[str]],
) -> None:
    url, hits = receiver
    allowed = (ipaddress.ip_network("127.0.0.0/8"),)  # the operator's own receiver
    async with WebhookClient(allowed) as client:
        assert await client.post(f"{url}/moved", {"event": "test"}) == 307
    assert hits == ["/moved"]


async def test_an_operator_may_allow_a_private_network(tmp_path: Path) -> None:
    options = Options(webhook_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    async with clinic_server_at(tmp_path / "clinic.db", options) as server:
        clinic = await server.make_clinic()
        path = f"/clinics/{clinic.clinic_id}/alert-webhook"
        await server.ok("PUT", path, clinic.admin.token, {"url": "http://10.1.2.3/hook"})
        status, _ = await server.call(
            "PUT", path, clinic.admin.token, {"url": "http://192.168.1.1/hook"}
        )
        assert status == 422
