"""A headless Chromium guest, from a guest link, receives the kiosk's video."""

from __future__ import annotations

from tests.browser import chromium, decoded_frames, join_as_guest, wait_for_video
from tests.call.conftest import Room
from tests.management.test_managed_kiosk import eventually


async def test_a_browser_guest_sees_and_hears_the_kiosk(room: Room) -> None:
    link = await room.server.ok(
        "POST", f"/rooms/{room.clinic.meeting_room}/guest-links", room.clinic.member.token
    )
    async with chromium() as browser:
        guest = await browser.new_page()
        await join_as_guest(guest, link["url"], "Browser Guest")
        await room.kiosk.press(1)
        await room.wait_state("in_call")
        await wait_for_video(guest, peers=1, frames=15)
        stats = await decoded_frames(guest)
        assert stats[0]["audio_packets_received"] > 0

        async def receiving() -> bool:
            peers = (await room.status())["peers"]
            return bool(peers) and peers[0]["video_frames_received"] > 0

        await eventually(receiving)  # and the kiosk receives the browser's fake camera
        assert (await room.status())["peers"][0]["name"] == "Browser Guest"

        # the box muted with its button: the guest's tile of the box says so, and no more
        # once it is live again
        badge = ".tile:not(.self) .badge"
        await guest.wait_for_selector(f"{badge}:empty", state="attached")
        await room.kiosk.press(4)
        await guest.wait_for_selector(f"{badge}:has-text('Muted')")
        await room.kiosk.press(4)
        await guest.wait_for_selector(f"{badge}:empty", state="attached")
