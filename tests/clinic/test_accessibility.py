"""Every page, checked in Chromium with axe-core (axe-playwright-python bundles it): no
serious or critical violation, in the states people meet (the login, a patient waiting,
a guest in a call, the rooms, the waiting dashboard, the admin page with a device's editor
and a new enrollment code); and nothing the browser asks for is missing (the favicon)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

from tests.browser import chromium
from tests.clinic.test_pages import log_in
from tests.clinic_server import ClinicFixture, ClinicServer


async def serious(axe: Axe, page: Page) -> list[dict[str, Any]]:
    results = await axe.run(page)
    return [
        {"rule": v["id"], "impact": v["impact"], "where": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_no_serious_or_critical_violations_on_any_page(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    await clinic_server.ok("POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token,
                           {"name": "Exam room 1"})  # fmt: skip
    link = await clinic_server.ok("POST", f"/rooms/{clinic.meeting_room}/guest-links",
                                  clinic.member.token)  # fmt: skip
    axe, found, missing = Axe(), {}, []
    async with chromium() as browser:

        async def check(page: Page, label: str) -> None:
            found[label] = await serious(axe, page)

        def watch(page: Page) -> Page:
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
            return page

        page = watch(await browser.new_page())
        await page.goto(clinic_server.url + "/")
        await check(page, "login")
        await log_in(page, clinic_server, clinic.admin)
        await check(page, "rooms")
        await page.goto(clinic_server.url + "/waiting")
        await page.wait_for_selector("#empty:visible")
        await check(page, "waiting dashboard")
        await page.goto(clinic_server.url + "/admin")
        await page.click("#devices a:has-text('Exam room 1')")
        await page.wait_for_selector("#config-form")
        await check(page, "admin, a device's editor")
        await page.fill("#device-name", "Exam room 2")
        await page.click("#add-device button[type=submit]")
        await page.wait_for_selector("#enrollment-code")
        await check(page, "admin, a new code")

        patient = watch(await browser.new_page())
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await check(patient, "patient, entering")
        await patient.fill("#name", "Ann Patient")
        await patient.click("button[type=submit]")
        await patient.wait_for_selector("#call-status")
        await check(patient, "patient, waiting")

        guest = watch(await browser.new_page())
        await guest.goto(link["url"])
        await check(guest, "guest, entering")
        await guest.fill("#name", "A Guest")
        await guest.click("button[type=submit]")
        await guest.wait_for_selector("#call-status")
        await check(guest, "guest, in the call")
    assert {label: v for label, v in found.items() if v} == {}
    assert missing == []
