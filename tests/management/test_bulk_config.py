"""One change to many devices' configs in one request (a JSON merge patch), checked as a
PUT would check each, all or nothing, and pushed to the connected ones at once."""

from __future__ import annotations

from typing import Any

from kiosk.signalling.channel import CHANNEL_PATH
from tests.clinic_server import ClinicFixture, ClinicServer
from tests.fallback.test_clinic_grants import enrolled, next_config


async def configs(server: ClinicServer, clinic: ClinicFixture) -> dict[str, Any]:
    devices = await server.ok("GET", f"/clinics/{clinic.clinic_id}/devices", clinic.admin.token)
    return {d["name"]: d for d in devices}


async def test_video_quality_for_the_whole_fleet_in_one_request(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    admin = clinic.admin.token
    ids = {}
    for i in range(4):
        ids[i], token = await enrolled(clinic_server, clinic, f"box {i}")
        button = {"1": {"action": "join", "room_id": clinic.meeting_room}} if i == 0 else {}
        await clinic_server.ok("PUT", f"/devices/{ids[i]}/config", admin,
                               {"name": f"box {i}", "buttons": button})  # fmt: skip
    before = await configs(clinic_server, clinic)
    url = clinic_server.url.replace("http", "ws", 1) + CHANNEL_PATH
    headers = {"Authorization": f"Bearer {token}"}  # box 3's
    async with clinic_server.session.ws_connect(url, headers=headers) as box:
        await next_config(box)
        path = f"/clinics/{clinic.clinic_id}/devices/config"
        change = {"video": {"width": 640, "height": 360, "fps": 15}}
        answer = await clinic_server.ok("PATCH", path, admin, {"devices": "all", "change": change})
        assert answer["updated"] == 4
        pushed = await next_config(box)  # the connected box has it at once
        assert pushed["config"]["video"]["fps"] == 15
        assert pushed["config_version"] == answer["config_versions"][ids[3]]
    after = await configs(clinic_server, clinic)
    for name, device in after.items():
        assert device["config"]["video"] == {**before[name]["config"]["video"], **change["video"]}
        assert device["config"]["name"] == name  # the rest of each config is kept
        assert device["config"]["buttons"] == before[name]["config"]["buttons"]
        assert device["config_version"] == before[name]["config_version"] + 1

    # some devices, and null takes a setting back to its default
    some = {"devices": [ids[1], ids[2]], "change": {"video": None}}
    answer = await clinic_server.ok("PATCH", path, admin, some)
    assert sorted(answer["config_versions"]) == sorted([ids[1], ids[2]])
    again = await configs(clinic_server, clinic)
    assert again["box 1"]["config"]["video"]["fps"] != 15
    assert again["box 0"]["config"]["video"]["fps"] == 15


async def test_a_change_bad_for_any_device_changes_none(
    clinic_server: ClinicServer, clinic: ClinicFixture
) -> None:
    admin = clinic.admin.token
    other = await clinic_server.make_clinic("Other clinic")
    ids = [(await enrolled(clinic_server, clinic, f"box {i}"))[0] for i in range(3)]
    foreign, _ = await enrolled(clinic_server, other, "theirs")
    before = await configs(clinic_server, clinic)
    path = f"/clinics/{clinic.clinic_id}/devices/config"
    cases = [
        ({"devices": "all", "change": {"video": {"fps": 500}}}, f"{ids[0]}: video.fps:"),
        ({"devices": "all", "change": {"buttons": {"2": {"action": "join",
                                                         "room_id": other.meeting_room}}}},
         f"{ids[2]}: buttons.2.room_id: no meeting room or user room"),
        ({"devices": [ids[0], foreign], "change": {"heartbeat_seconds": 30}},
         f"devices: no device {foreign} in this clinic"),
        ({"devices": "some", "change": {}}, "devices"),
        ({"devices": "all", "change": {"name": ""}}, f"{ids[1]}: name:"),
    ]  # fmt: skip
    for body, problem in cases:
        status, answer = await clinic_server.call("PATCH", path, admin, body)
        assert status == 422, (body, answer)
        assert problem in answer["error"]["message"], (problem, answer)
    assert await configs(clinic_server, clinic) == before
    # not an admin of this clinic
    status, _ = await clinic_server.call(
        "PATCH", path, other.admin.token, {"devices": "all", "change": {}}
    )
    assert status == 403
