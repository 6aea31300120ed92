"""The web pages in a real browser: log in, join, invite a guest, the waiting area."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.browser import chromium, join_as_guest, wait_for_video
from tests.clinic_server import Account, ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually


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
        # in consultation: listed so, with whom
        waiting = await clinic_server.ok(
            "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
        )
        assert [(p["state"], p["with"]) for p in waiting] == [("in_consultation", ["Member"])]


async def test_a_patient_reloads_keeps_their_place_and_leaves_for_good(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    path = f"/clinics/{clinic.clinic_id}/waiting-area"
    async with chromium() as browser:
        clinician = await browser.new_page()
        await log_in(clinician, clinic_server, clinic.member)
        await clinician.goto(clinic_server.url + "/waiting")
        await clinician.wait_for_selector("#empty:visible")
        await clinician.check("#arrival-sound")  # and a sound, if the clinician wants one

        patient = await browser.new_page()
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await patient.fill("#name", "Ann Patient")
        await patient.click("button[type=submit]")
        await patient.wait_for_selector("#call-status:has-text('Keep this page open')")
        [before] = await clinic_server.ok("GET", path, clinic.member.token)

        # the dashboard says so in its tab's title, and in words
        async def titled() -> bool:
            return (await clinician.title()).startswith("(1) ")

        await eventually(titled, 10)
        await clinician.wait_for_selector("#arrival:has-text('A patient has arrived')")
        assert await clinician.evaluate("window.arrivalSounds") == 1

        await patient.reload()
        await patient.wait_for_selector("#call-status:has-text('Keep this page open')")
        assert await patient.locator("#enter").is_hidden()

        async def back() -> dict[str, Any] | None:
            listed = await clinic_server.ok("GET", path, clinic.member.token)
            return listed[0] if listed and listed[0]["connected"] else None

        after = await eventually(back, 10)
        assert (after["patient_id"], after["waiting_since"]) == (
            before["patient_id"], before["waiting_since"],
        )  # fmt: skip

        await patient.click("#leave")
        await patient.wait_for_selector("#ended:has-text('You have left the waiting area')")
        assert await clinic_server.ok("GET", path, clinic.member.token) == []


async def test_one_login_serves_every_tab_returns_to_the_page_asked_and_logs_out(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        first = await browser.new_page()
        await first.goto(clinic_server.url + "/admin")
        await first.wait_for_url("**/?next=%2Fadmin")  # no login yet: asked for one
        await first.fill("#email", clinic.admin.email)
        await first.fill("#password", clinic.admin.password)
        await first.click("button[type=submit]")
        await first.wait_for_url("**/admin")  # and back where they were going

        second = await browser.new_page()  # a new tab: no second login
        await second.goto(clinic_server.url + "/waiting")
        await second.wait_for_selector("#who:has-text('Admin')")
        assert second.url.endswith("/waiting")
        token = await second.evaluate("localStorage.getItem('token')")

        await second.click("#logout")  # on this page too
        await second.wait_for_url(clinic_server.url + "/")
        status, _ = await clinic_server.call("GET", f"/clinics/{clinic.clinic_id}/rooms", token)
        assert status == 401  # ended on the server, not only in the tab
        await first.reload()
        await first.wait_for_url("**/?next=%2Fadmin")  # the other tab is logged out too


async def test_the_call_view_says_where_who_and_what_each_button_does(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        clinician = await browser.new_page()
        await log_in(clinician, clinic_server, clinic.member)
        await clinician.locator("tr", has_text="M1").locator("button.join").click()
        await clinician.wait_for_selector("#call-room:has-text('M1')")  # the room, named
        assert await clinician.get_attribute("#call-status", "role") == "status"

        link = await clinic_server.ok("POST", f"/rooms/{clinic.meeting_room}/guest-links",
                                      clinic.member.token)  # fmt: skip
        guest = await browser.new_page()
        await join_as_guest(guest, link["url"], "Gail Guest")
        await clinician.wait_for_selector("#call-notices:has-text('joined')")
        await wait_for_video(clinician)

        # the labels say what the next press does
        await guest.wait_for_selector(".tile:not(.self) .badge:empty", state="attached")
        await clinician.click("#mute")
        assert await clinician.text_content("#mute") == "Unmute"
        # the guest sees the clinician muted (their sound is digital silence now)
        await guest.wait_for_selector(".tile:not(.self) .badge:has-text('Muted')")
        await clinician.click("#camera")
        assert await clinician.text_content("#camera") == "Start camera"
        # the guest sees the clinician's picture stop, marked as such, not a frozen frame
        await guest.wait_for_selector(".tile:not(.self) .badge:has-text('Camera off')")
        await clinician.click("#camera")
        await clinician.click("#mute")
        await guest.wait_for_selector(".tile:not(.self) .badge:empty", state="attached")
        # your own picture is the small one
        own = await clinician.locator(".tile.self").bounding_box()
        other = await clinician.locator(".tile:not(.self)").bounding_box()
        assert own is not None
        assert other is not None
        assert own["width"] < other["width"]

        await guest.click("#leave")
        await clinician.wait_for_selector("#call-notices:has-text('left')")


async def test_a_patient_checks_camera_microphone_and_sound_before_entering(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium() as browser:
        patient = await browser.new_page()
        await patient.set_viewport_size({"width": 390, "height": 844})  # a phone
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        assert "camera and microphone" in (await patient.text_content("#check-why") or "")
        await patient.click("#check-start")
        await patient.wait_for_selector("#check-result:visible")

        async def previewing_and_hearing() -> bool:
            shown = await patient.evaluate("document.getElementById('preview').videoWidth")
            level = await patient.evaluate("document.getElementById('level').value")
            return bool(shown > 0 and level > 0)  # the fake camera, and its beeping microphone

        await eventually(previewing_and_hearing, 15)
        await patient.click("#tone")
        await patient.wait_for_selector("#tone-said:has-text('hear')")
        assert await patient.evaluate("window.testTones") == 1
        await patient.fill("#name", "Ann Patient")
        await patient.click("button[type=submit]")
        await patient.wait_for_selector("#call-status:has-text('Keep this page open')")
        await patient.wait_for_selector("#call-room:has-text('Waiting area of Clinic')")
        width = await patient.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing runs off the phone's screen


async def test_a_refused_camera_is_explained_and_sound_alone_will_do(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    async with chromium(only=("microphone",)) as browser:
        patient = await browser.new_page()
        await patient.goto(f"{clinic_server.url}/enter/{clinic.clinic_id}")
        await patient.click("#check-start")
        await patient.wait_for_selector("#check-problem:has-text('sound only')")
        await patient.wait_for_selector("#check-retry:visible")  # a way to try again
        assert await patient.locator("#preview").is_hidden()


async def test_every_clinician_page_fits_a_phone(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    """At 390x844 nothing runs off the side of the page (a wide table scrolls in its own
    box) and Log out is on screen."""
    await clinic_server.ok("POST", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token,
                           {"name": "Exam room with a rather long name, 2nd floor"})  # fmt: skip
    async with chromium() as browser:
        page = await browser.new_page()
        await page.set_viewport_size({"width": 390, "height": 844})
        await log_in(page, clinic_server, clinic.admin)
        for path, ready in (("/rooms", "#who"), ("/waiting", "#empty"), ("/admin", "#devices tr")):
            await page.goto(clinic_server.url + path)
            await page.wait_for_selector(ready)
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{path} is {wide} px wide on a 390 px phone"
            logout = await page.locator("#logout").bounding_box()
            assert logout is not None, path
            assert logout["x"] >= 0, path
            assert logout["x"] + logout["width"] <= 390, path
