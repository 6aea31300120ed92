"""The clinic service dies; the kiosks of the clinic keep calling each other over the LAN."""

from __future__ import annotations

import asyncio

from tests.fallback.conftest import LanFactory, frame_times, free_port, largest_gap
from tests.management.test_managed_kiosk import eventually


async def test_kiosks_call_each_other_through_the_fallback_host(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], hosts=["exam-1"])
    net.clinic.kill()
    for name in net.kiosks:
        await net.signalling(name, "local")
        status = await net.kiosks[name].status()
        assert status["leds"]["ready"].startswith("pulse"), status["leds"]
    for kiosk in net.kiosks.values():
        await kiosk.press(1)
    first = await net.in_call_with("exam-1", others=1)
    second = await net.in_call_with("exam-2", others=1)
    assert first["room_id"] == second["room_id"] == net.fixture.meeting_room
    assert first["signalling"] == second["signalling"] == "local"
    assert first["peers"][0]["name"] == "exam-2"
    assert second["peers"][0]["name"] == "exam-1"


async def test_a_running_call_loses_no_media_when_the_clinic_dies(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], hosts=["exam-1"])
    for kiosk in net.kiosks.values():
        await kiosk.press(1)
    await net.in_call_with("exam-2", others=1)
    watcher = net.kiosks["exam-2"]

    before = await frame_times(watcher, 1.0)
    killed = net.clinic.kill()
    arrivals = before + await frame_times(watcher, 4.0)
    gap = largest_gap(arrivals)
    assert arrivals[-1] - killed > 3.5, "frames stopped after the clinic died"
    assert gap < 1.0, f"largest gap between received frames {gap:.2f} s"
    for name in net.kiosks:
        await net.signalling(name, "local")
        assert (await net.kiosks[name].status())["state"] == "in_call"


async def test_back_to_the_cloud_when_idle_never_mid_call(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], hosts=["exam-1"])
    net.clinic.kill()
    await net.signalling("exam-1", "local")
    await net.kiosks["exam-1"].press(1)  # alone in the room, on the LAN

    async def joined() -> bool:
        return bool((await net.kiosks["exam-1"].status())["state"] == "in_call")

    await eventually(joined)
    await net.clinic.start()
    await net.signalling("exam-2", "cloud")  # idle: straight back
    await asyncio.sleep(2)
    in_call = await net.kiosks["exam-1"].status()
    assert in_call["clinic_connected"], "the clinic is back and reachable"
    assert in_call["signalling"] == "local", "mid-call: stays on the LAN"
    await net.kiosks["exam-1"].press(3)
    await net.signalling("exam-1", "cloud")

    # each switch reached the clinic in a heartbeat
    async def reported() -> list[dict[str, object]] | None:
        status, devices = await net.admin_get(f"/clinics/{net.fixture.clinic_id}/devices")
        assert status == 200
        mine = next(d for d in devices if d["device_id"] == net.device_ids["exam-2"])
        switches = (mine["status"] or {}).get("signalling_switches") or []
        return switches if [s["to"] for s in switches] == ["local", "cloud"] else None

    switches = await eventually(reported)
    assert "unreachable" in str(switches[0]["reason"])


async def test_the_next_host_takes_over_when_the_first_is_gone(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2", "exam-3"], hosts=["exam-1", "exam-2"])
    net.clinic.kill()
    net.kiosks.pop("exam-1").kill()  # the first fallback host loses power too
    for name in ("exam-2", "exam-3"):
        await net.signalling(name, "local")
        await net.kiosks[name].press(1)
    second = await net.in_call_with("exam-2", others=1)
    third = await net.in_call_with("exam-3", others=1)
    assert second["peers"][0]["name"] == "exam-3"
    assert third["peers"][0]["name"] == "exam-2"
    assert second["fallback"]["hosted_rooms"] == {net.fixture.meeting_room: 2}


async def test_mdns_finds_a_host_whose_address_went_stale(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], hosts=["exam-1"])
    net.clinic.kill()
    host = net.kiosks["exam-1"]
    host.kill()  # it comes back on another port: what the clinic handed out is stale
    host.env["KIOSK_FALLBACK_PORT"] = str(free_port())
    await host.start()
    port = host.env["KIOSK_FALLBACK_PORT"]

    async def hosting_on_the_new_port() -> bool:  # from the cached config, offline
        return str((await host.status())["fallback"]["hosting"]).endswith(port)

    await eventually(hosting_on_the_new_port)
    for name in net.kiosks:
        await net.signalling(name, "local")
        await net.kiosks[name].press(1)
    first = await net.in_call_with("exam-1", others=1)
    second = await net.in_call_with("exam-2", others=1)
    assert first["signalling"] == second["signalling"] == "local"
