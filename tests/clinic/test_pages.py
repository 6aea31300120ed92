"""The web pages in a real browser: log in, join, invite a guest, the waiting area."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser import chromium, wait_for_video
from tests.clinic_server import Account, ClinicFixture, ClinicServer


async def submit_login(page: Page, server: ClinicServer, email: str, password: str) -> None:
    await page.goto(server.url + "/")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def log_in(page: Page, server: ClinicServer, account: Account) -> None:
    await submit_login(page, server, account.email, account.password)
    await page.wait_for_url("**/rooms")


async def test_clinician_and_guest_see_each_other(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        clinician = await browser.new_page()
        await log_in(clinician, clinic_server, clinic.member)
        room_row = clinician.locator(f"tr[data-room='{clinic.meeting_room}']")
        await room_row.locator("button.invite").click()
        guest_url = await clinician.locator("#guest-url").text_content()
        assert guest_url is not None
        assert guest_url.startswith(clinic_server.url + "/guest#")
        await room_row.locator("button.join").click()
        await clinician.wait_for_selector("#call-status")

        guest = await browser.new_page()
        await guest.goto(guest_url)
        await guest.fill("#name", "Visiting Nurse")
        await guest.click("button[type=submit]")

        await wait_for_video(clinician)
        await wait_for_video(guest)
        names = await clinician.locator(".tile .name").all_text_contents()
        assert "Visiting Nurse" in names
        await guest.click("#leave")
        await clinician.wait_for_function(
            "document.querySelectorAll('.tile').length === 1", timeout=10_000
        )


async def test_a_wrong_password_is_shown(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await submit_login(page, clinic_server, clinic.member.email, "not the password")
        await page.wait_for_selector("#error:has-text('wrong email or password')")


async def test_patient_waits_and_the_clinician_joins_from_the_dashboard(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        patient = await browser.new_page()
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await patient.fill("#name", "Ann Patient")
        await patient.click("button[type=submit]")
        await patient.wait_for_selector("#call-status:has-text('clinician will join')")

        clinician = await browser.new_page()
        await log_in(clinician, clinic_server, clinic.member)
        await clinician.goto(clinic_server.url + "/waiting")
        row = clinician.locator("tr", has_text="Ann Patient")
        await row.locator("button.join").click()

        await wait_for_video(clinician)
        await wait_for_video(patient)
        # in consultation: no longer listed as waiting
        waiting = await clinic_server.ok(
            "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
        )
        assert waiting == []
