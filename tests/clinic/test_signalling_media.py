"""Real aiortc peers through the real signalling server: media flows in full meshes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.clinic_server import ClinicFixture, ClinicServer
from tests.mesh_peer import MeshPeer


@pytest.fixture(autouse=True)
def _loopback(loopback_ice: None) -> None:
    """Every test here runs WebRTC on loopback."""


@pytest.fixture
async def peers(clinic_server: ClinicServer) -> AsyncIterator[list[MeshPeer]]:
    made: list[MeshPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def member_peer(
    server: ClinicServer, clinic: ClinicFixture, room_id: str, name: str
) -> MeshPeer:
    grant = await server.ok("POST", f"/rooms/{room_id}/join-token", clinic.member.token)
    return MeshPeer(server.session, grant["signal_url"], grant["token"], name)


@pytest.mark.parametrize("size", [2, 4, 6])
async def test_everyone_receives_everyone(
    clinic_server: ClinicServer, clinic: ClinicFixture, peers: list[MeshPeer], size: int
) -> None:
    for i in range(size):
        peer = await member_peer(clinic_server, clinic, clinic.meeting_room, f"p{i}")
        peers.append(peer)
        joined = await peer.join()
        assert joined["type"] == "joined"
        assert len(joined["peers"]) == i
    for peer in peers:
        await peer.wait_for_media(remotes=size - 1, timeout=60)
    assert clinic_server.app  # the server is still up


async def test_the_seventh_gets_room_full_and_a_leaver_is_announced(
    clinic_server: ClinicServer, clinic: ClinicFixture, peers: list[MeshPeer]
) -> None:
    from kiosk.signalling.server import HUB

    hub = clinic_server.app[HUB]
    for i in range(6):
        peer = await member_peer(clinic_server, clinic, clinic.meeting_room, f"p{i}")
        peers.append(peer)
        # signalling only: media for six is covered above
        await peer.connect()
        await peer.send({"type": "join", "token": peer.token, "name": peer.name})
        assert (await peer.next_event("joined"))["type"] == "joined"
    seventh = await member_peer(clinic_server, clinic, clinic.meeting_room, "p6")
    peers.append(seventh)
    await seventh.connect()
    await seventh.send({"type": "join", "token": seventh.token, "name": "p6"})
    error = await seventh.next_event("error")
    assert error["code"] == "room_full"
    assert hub.rooms()[clinic.meeting_room] == 6

    await peers[2].ws.close()  # type: ignore[union-attr]  # drops without saying goodbye
    for i in (0, 1, 3, 4, 5):
        left = await peers[i].next_event("peer_left")
        assert left["peer_id"]
    # now the seventh fits
    await seventh.send({"type": "join", "token": seventh.token, "name": "p6"})
    joined = await seventh.next_event("joined")
    assert len(joined["peers"]) == 5


async def test_a_patient_never_appears_in_another_patients_space(
    clinic_server: ClinicServer, clinic: ClinicFixture, peers: list[MeshPeer]
) -> None:
    spaces = []
    for name in ("Ann", "Bob"):
        entered = await clinic_server.ok(
            "POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter", body={"name": name}
        )
        peer = MeshPeer(clinic_server.session, entered["signal_url"], entered["token"], name)
        peers.append(peer)
        joined = await peer.join()
        assert joined["peers"] == []  # alone in a private space
        spaces.append((entered["patient_id"], entered["room_id"], peer))
    assert spaces[0][1] != spaces[1][1]

    # a clinician joins Ann; Bob hears nothing of it, Ann and the clinician see each other
    grant = await clinic_server.ok(
        "POST", f"/waiting-area/{spaces[0][0]}/join-token", clinic.member.token
    )
    clinician = MeshPeer(clinic_server.session, grant["signal_url"], grant["token"], "Dr M")
    peers.append(clinician)
    joined = await clinician.join()
    assert [p["name"] for p in joined["peers"]] == ["Ann"]
    await clinician.wait_for_media(remotes=1)
    await spaces[0][2].wait_for_media(remotes=1)
    assert spaces[1][2].events.empty()
    assert not spaces[1][2].video_frames

    # Ann is in consultation (with the clinician's account), so only Bob is waiting
    listed = await clinic_server.ok(
        "GET", f"/clinics/{clinic.clinic_id}/waiting-area", clinic.member.token
    )
    assert [(p["name"], p["state"]) for p in listed] == [
        ("Ann", "in_consultation"),
        ("Bob", "waiting"),
    ]
    assert len(listed[0]["with"]) == 1


Factory = Callable[..., MeshPeer]
