"""The admin pages in Chromium: add a device, read its code, map a button, see it online."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.browser import chromium
from tests.clinic.test_pages import log_in
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.management.test_managed_kiosk import eventually, kiosk_cli
from tests.processes import KioskProcess


async def test_admin_adds_a_device_maps_a_button_and_sees_it_online(
    clinic_server: ClinicServer, clinic: ClinicFixture, tmp_path: Path
) -> None:
    kiosk = KioskProcess(tmp_path / "state", {"KIOSK_ENROLLMENT_FILE": str(tmp_path / "none")})
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await log_in(page, clinic_server, clinic.admin)
            await page.click("#admin-link")
            await page.wait_for_url("**/admin")
            await page.fill("#device-name", "Exam room 3")
            await page.click("#add-device button[type=submit]")
            shown = await page.locator("#enrollment-code").text_content()
            assert shown is not None
            assert len(shown.split()) == 4  # in groups of four, as it is read out
            code = shown.replace(" ", "")
            assert len(code) == 16
            expiry = await page.locator("#code-expiry").text_content() or ""
            assert not re.search(r"\d{4}-\d\d-\d\dT", expiry)  # words, not ISO 8601
            assert any(c.isalpha() for c in expiry)
            command = await page.locator("#enroll-command").text_content()
            assert command == f"kiosk enroll {code} --clinic-url {clinic_server.url}"
            await browser.context.grant_permissions(["clipboard-read", "clipboard-write"])
            await page.click("#copy-code")
            await page.wait_for_selector("#copied:has-text('Copied')")
            assert await page.evaluate("navigator.clipboard.readText()") == code
            # a device never enrolled gets a new code; the one before stops working
            await page.click("#devices a:has-text('Exam room 3')")
            await page.click("#new-code-button")
            renewed = code
            for _ in range(50):
                renewed = (await page.locator("#enrollment-code").text_content() or "").replace(
                    " ", ""
                )
                if renewed != code:
                    break
                await asyncio.sleep(0.1)
            status, _ = await clinic_server.call(
                "POST", "/enroll", body={"enrollment_code": code, "hardware": {}}
            )
            assert renewed != code
            assert status == 401
            code = renewed

            await page.click("#devices a:has-text('Exam room 3')")
            await page.select_option("select[name=action-1]", "join")
            await page.select_option("select[name=room-1]", clinic.meeting_room)
            await page.select_option("select[name=action-4]", "toggle_mute")
            assert await page.locator("select[name=room-4]").is_hidden()  # not a join button
            # a join button without its room, and a least bitrate above the most: refused,
            # each said in plain words beside its own field
            await page.select_option("select[name=action-2]", "join")
            await page.fill("input[name=min-bitrate]", "2000")
            await page.click("#save-config")
            await page.wait_for_selector("#error-button-2:has-text('Choose a room')")
            await page.wait_for_selector(
                "#error-video:has-text('min_bitrate_kbps (2000) is above')"
            )
            await page.select_option("select[name=action-2]", "")
            await page.fill("input[name=min-bitrate]", "300")
            await page.check("#field-chime")  # labelled: found by its words too
            assert await page.get_by_label("Chime on the box's speaker").is_checked()
            await page.click("#save-config")
            await page.wait_for_selector("#saved:has-text('version 2')")
            for field in ("#error-button-2", "#error-video", "#error"):
                assert (await page.locator(field).text_content() or "") == ""  # cleared
            devices = await clinic_server.ok(
                "GET", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token
            )
            saved = next(d for d in devices if d["name"] == "Exam room 3")["config"]
            video = saved["video"]
            assert (video["min_bitrate_kbps"], video["max_bitrate_kbps"]) == (300, 1500)
            assert saved["waiting"] == {"chime": True}

            enrolled = await kiosk_cli(kiosk.env, "enroll", code, "--clinic-url", clinic_server.url)
            assert enrolled.returncode == 0, enrolled.stderr
            await kiosk.start()
            row = page.locator("#devices tr", has_text="Exam room 3")
            await row.locator("td.online:has-text('online')").wait_for(timeout=15_000)
            assert "camera ok" in (await row.text_content() or "")

            async def configured() -> bool:
                return (await kiosk.status())["config_version"] == 2

            await eventually(configured)
            await kiosk.press(4)  # the mapping the admin made: mute
            assert (await kiosk.status())["muted"] is True

            # a command from the page, answered by the box
            await page.click("#devices a:has-text('Exam room 3')")
            await page.click("button.command[data-action=identify]")
            await page.wait_for_selector("#command-result:has-text('identify: done')")

            # the box goes: read at a glance, with what it last said marked as such
            await page.locator("#devices tr", has_text="Exam room 3").locator(
                "td.health-ok:has-text('Online')").wait_for()  # fmt: skip
            kiosk.kill()
            await row.locator("td.health-offline:has-text('Offline')").wait_for(timeout=60_000)
            text = await row.text_content() or ""
            assert "last known, before it went offline" in text
            assert await row.get_attribute("class") == "stale"
    finally:
        kiosk.kill()
