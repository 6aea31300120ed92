"""Signalling rooms that span `clinic serve --redis` processes: real aiortc peers, each
through a different process, and the room's cap over all of them."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable

import pytest

from tests.management.test_managed_kiosk import eventually
from tests.mesh_peer import MeshPeer
from tests.scale.conftest import Scaled, ScaledFactory


@pytest.fixture(autouse=True)
def _loopback(loopback_ice: None) -> None:
    """WebRTC on loopback."""


@pytest.fixture
async def peers() -> AsyncIterator[list[MeshPeer]]:
    made: list[MeshPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def peer_on(scaled: Scaled, i: int, name: str) -> MeshPeer:
    """A member's peer whose token, and so whose signalling URL, comes from process i."""
    clinic = scaled.clinic
    grant = await scaled.ok(i, "POST", f"/rooms/{clinic.meeting_room}/join-token",
                            clinic.member.token)  # fmt: skip
    assert grant["signal_url"].startswith(scaled.processes[i].url.replace("http", "ws"))
    return MeshPeer(scaled.session, grant["signal_url"], grant["token"], name)


async def test_two_participants_on_two_processes_decode_each_other(
    scaled: ScaledFactory, peers: list[MeshPeer]
) -> None:
    cluster = await scaled(2)
    first = await peer_on(cluster, 0, "on-0")
    peers.append(first)
    first_joined = await first.join()
    assert first_joined["peers"] == []
    second = await peer_on(cluster, 1, "on-1")
    peers.append(second)
    joined = await second.join()
    assert [p["peer_id"] for p in joined["peers"]] == [first_joined["peer_id"]]
    assert joined["peers"][0]["name"] == "Member"  # the token's name, from another process
    await first.wait_for_media(remotes=1, timeout=60)
    await second.wait_for_media(remotes=1, timeout=60)

    await second.close()  # its process tells the other
    left = await first.next_event("peer_left")
    assert left["peer_id"] == joined["peer_id"]


async def test_six_over_three_processes_fill_the_room(
    scaled: ScaledFactory, peers: list[MeshPeer]
) -> None:
    cluster = await scaled(3)
    for i in range(6):
        peer = await peer_on(cluster, i % 3, f"p{i}")
        peers.append(peer)
        await peer.connect()  # signalling only: media across processes is shown above
        await peer.send({"type": "join", "token": peer.token, "name": peer.name})
        joined = await peer.next_event("joined")
        assert len(joined["peers"]) == i
    seventh = await peer_on(cluster, 2, "p6")
    peers.append(seventh)
    await seventh.connect()
    await seventh.send({"type": "join", "token": seventh.token, "name": "p6"})
    assert (await seventh.next_event("error"))["code"] == "room_full"

    # one leaves (from process 1): everyone else hears it, and the seventh fits
    gone = peers[4]
    await gone.ws.close()  # type: ignore[union-attr]
    for i in (0, 1, 2, 3, 5):
        assert (await peers[i].next_event("peer_left"))["peer_id"]
    await seventh.send({"type": "join", "token": seventh.token, "name": "p6"})
    assert len((await seventh.next_event("joined"))["peers"]) == 5


async def test_a_relay_to_a_peer_on_another_process_or_nowhere(
    scaled: ScaledFactory, peers: list[MeshPeer]
) -> None:
    cluster = await scaled(2)
    a, b = await peer_on(cluster, 0, "a"), await peer_on(cluster, 1, "b")
    peers += [a, b]
    for peer in (a, b):
        await peer.connect()
        await peer.send({"type": "join", "token": peer.token, "name": peer.name})
    a_id = (await a.next_event("joined"))["peer_id"]
    b_id = (await b.next_event("joined"))["peer_id"]
    candidate = {"type": "candidate", "to": b_id, "candidate": None}
    await a.send(candidate)
    relayed = await b.next_event("candidate")
    assert relayed["from"] == a_id
    await a.send({**candidate, "to": "nobody"})
    assert (await a.next_event("error"))["code"] == "unknown_peer"


async def test_a_patient_on_one_process_is_seen_by_a_clinician_on_another(
    scaled: ScaledFactory, peers: list[MeshPeer]
) -> None:
    """While a clinician (through process 1) is with a patient (through process 0), the
    patient is listed as in consultation, not waiting; when the clinician leaves, the
    patient is waiting again."""
    cluster = await scaled(2)
    clinic = cluster.clinic
    entered = await cluster.ok(0, "POST", f"/clinics/{clinic.clinic_id}/waiting-area/enter",
                               body={"name": "Ann"})  # fmt: skip
    patient = MeshPeer(cluster.session, entered["signal_url"], entered["token"], "Ann")
    peers.append(patient)
    await patient.connect()
    await patient.send({"type": "join", "token": patient.token, "name": "Ann"})
    await patient.next_event("joined")

    async def waiting() -> list[str]:
        listed = await cluster.ok(1, "GET", f"/clinics/{clinic.clinic_id}/waiting-area",
                                  clinic.member.token)  # fmt: skip
        return [p["patient_id"] for p in listed if p["state"] == "waiting"]

    assert await waiting() == [entered["patient_id"]]
    grant = await cluster.ok(1, "POST", f"/waiting-area/{entered['patient_id']}/join-token",
                             clinic.member.token)  # fmt: skip
    clinician = MeshPeer(cluster.session, grant["signal_url"], grant["token"], "Dr Who")
    peers.append(clinician)
    await clinician.connect()
    await clinician.send({"type": "join", "token": clinician.token, "name": "Dr Who"})
    await clinician.next_event("joined")
    await eventually(lambda: _not(waiting()), 5)
    await clinician.ws.close()  # type: ignore[union-attr]
    assert await eventually(waiting, 5) == [entered["patient_id"]]


async def _not(check: Awaitable[list[str]]) -> bool:
    return not await check


async def test_a_dead_processs_member_leaves_after_the_liveness_timeout(
    scaled: ScaledFactory, peers: list[MeshPeer]
) -> None:
    """Its client does not come back: the room elsewhere hears `peer_left` once the 10 s
    a client has to resume are over, and its place is free. A process paused for 5 s (a
    busy machine) is not taken for dead."""
    cluster = await scaled(3)
    ids = []
    for i in range(3):
        peer = await peer_on(cluster, i, f"p{i}")
        peers.append(peer)
        await peer.connect()
        await peer.send({"type": "join", "token": peer.token, "name": peer.name})
        ids.append((await peer.next_event("joined"))["peer_id"])
    paused = cluster.processes[2].proc
    assert paused is not None
    paused.send_signal(signal.SIGSTOP)
    await asyncio.sleep(5)
    paused.send_signal(signal.SIGCONT)
    with pytest.raises(TimeoutError):
        await peers[1].next_event("peer_left", timeout=3)

    doomed = ids[0]
    killed_at = cluster.processes[0].kill()
    left = await peers[1].next_event("peer_left", timeout=20)
    waited = time.monotonic() - killed_at
    assert left["peer_id"] == doomed
    assert 9 < waited < 13, waited  # the liveness timeout, and a second to notice
    assert (await peers[2].next_event("peer_left", timeout=5))["peer_id"] == doomed
