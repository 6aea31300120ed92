"""Every page and API answer carries a strict Content-Security-Policy and its friends; the
pages run under it without a single violation; API failures are JSON, never a traceback."""

from __future__ import annotations

import pytest
import sqlalchemy

from clinic.web import SECURITY_HEADERS
from tests.browser import chromium
from tests.clinic.test_pages import log_in
from tests.clinic_server import ClinicFixture, ClinicServer


@pytest.mark.parametrize(
    "path",
    ["/", "/rooms", "/admin", "/guest", "/enter/x", "/static/api.js", "/api/v1/clinics/x/rooms",
     "/api/v1/nowhere", "/nowhere"],
)  # fmt: skip
async def test_every_answer_carries_the_security_headers(
    clinic_server: ClinicServer, path: str
) -> None:
    async with clinic_server.session.get(clinic_server.url + path) as response:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy


async def test_an_api_failure_is_json_without_a_traceback(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with clinic_server.storage._engine.begin() as conn:  # a damaged database
        await conn.execute(sqlalchemy.text("DROP TABLE rooms"))
    async with clinic_server.session.get(
        f"{clinic_server.url}/api/v1/clinics/{clinic.clinic_id}/rooms",
        headers={"Authorization": f"Bearer {clinic.member.token}"},
    ) as response:
        assert response.status == 500
        body = await response.json()
    assert body == {
        "error": {"code": "internal", "message": "internal error; the service logged it"}
    }
    assert "Traceback" not in str(body)


async def test_the_pages_run_under_the_policy(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        violations: list[str] = []
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
        )
        await page.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " e => console.error('Content Security violation ' + e.violatedDirective))"
        )
        await log_in(page, clinic_server, clinic.admin)  # the login page's script ran
        await page.wait_for_selector(f"tr[data-room='{clinic.meeting_room}']")
        await page.goto(clinic_server.url + "/admin")
        await page.wait_for_selector("table")
        await page.goto(clinic_server.url + "/waiting")
        await page.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await page.wait_for_selector("#name")
        assert violations == []
