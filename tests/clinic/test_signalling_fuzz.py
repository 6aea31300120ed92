"""Property-based fuzzing of the signalling socket, while another room's call goes on.

The server runs on its own event loop in a thread (one per module), so hypothesis drives
plain synchronous examples against it; a two-peer aiortc call in a second room runs there
all along and must keep receiving frames.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.call.ice import restrict_host_addresses
from kiosk.signalling.hub import OUTBOX_BYTES
from kiosk.signalling.messages import MAX_FRAME_BYTES, ErrorCode
from kiosk.signalling.server import HUB
from tests.clinic_server import ClinicFixture, ClinicServer, clinic_server_at
from tests.mesh_peer import MeshPeer

T = TypeVar("T")
CODES = {code.value for code in ErrorCode}


class Background:
    """A clinic server, a clinic and a running call, on a loop in another thread."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server")
        self.thread.start()
        self.tmp = tmp

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.server_cm = clinic_server_at(self.tmp / "clinic.db")
        self.server: ClinicServer = await self.server_cm.__aenter__()
        self.clinic: ClinicFixture = await self.server.make_clinic()
        second = await self.server.ok(
            "POST", f"/clinics/{self.clinic.clinic_id}/rooms", self.clinic.admin.token,
            {"kind": "meeting_room", "name": "Fuzz room"},
        )  # fmt: skip
        self.fuzz_room = second["id"]
        self.call: list[MeshPeer] = []
        for name in ("a", "b"):
            grant = await self.server.ok(
                "POST", f"/rooms/{self.clinic.meeting_room}/join-token", self.clinic.member.token
            )
            peer = MeshPeer(self.server.session, grant["signal_url"], grant["token"], name)
            self.call.append(peer)
            await peer.join()
        for peer in self.call:
            await peer.wait_for_media(remotes=1)

    async def frames_received(self) -> int:
        return sum(sum(p.video_frames.values()) for p in self.call)

    async def stop(self) -> None:
        for peer in self.call:
            await peer.close()
        await self.server_cm.__aexit__(None, None, None)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    restrict_host_addresses(["127.0.0.1"])
    bg = Background(tmp_path_factory.mktemp("fuzz"))
    try:
        bg.run(bg.start())
        yield bg
        bg.run(bg.stop())
    finally:
        bg.close()
        restrict_host_addresses([])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["offer", "answer", "candidate", "leave", "ping", "bogus", "", 7])},
    optional={
        "to": json_values,
        "sdp": json_values,
        "candidate": json_values,
        "token": json_values,
        "name": json_values,
    },
).map(json.dumps)
frames = st.one_of(
    st.text(max_size=100),
    json_values.map(json.dumps),
    message_like,
    st.binary(max_size=50),
    st.integers(1, 2000).map(
        lambda n: json.dumps({"type": "ping", "pad": "x" * (MAX_FRAME_BYTES + n)})
    ),
    st.just(json.dumps({"type": "offer", "to": "nobody", "sdp": "v=0"})),
    # limits are UTF-8 bytes (PROTOCOL.md section 6): multi-byte text under and over them
    # (no lone surrogates: they have no UTF-8, so no WebSocket text frame can carry one)
    st.text(st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), max_size=300).map(
        lambda t: json.dumps({"type": "ping", "pad": t}, ensure_ascii=False)
    ),
    st.integers(1, 2000).map(
        lambda n: json.dumps(
            {"type": "ping", "pad": "\U0001d11e" * (MAX_FRAME_BYTES // 4 + n)}, ensure_ascii=False
        )
    ),
    st.just(json.dumps({"type": "join", "token": "not-a-token"})),
)


async def exchange(bg: Background, sequence: list[str | bytes], join_first: bool) -> None:
    async with bg.server.session.ws_connect(bg.server.signal_url) as ws:
        if join_first:
            grant = await bg.server.ok(
                "POST", f"/rooms/{bg.fuzz_room}/join-token", bg.clinic.member.token
            )
            await ws.send_json({"type": "join", "token": grant["token"], "name": "fuzz"})
            assert (await ws.receive_json(timeout=5))["type"] == "joined"
        last_error: str | None = None
        for frame in sequence:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            await ws.send_str('{"type": "ping"}')
            # every frame is answered by nothing or contract errors, then our ping's pong
            while True:
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    assert last_error == ErrorCode.UNAUTHORIZED  # only a bad token closes
                    return
                answer = json.loads(msg.data)
                if answer["type"] == "pong":
                    break
                assert answer["type"] == "error", answer
                assert answer["code"] in CODES
                last_error = answer["code"]


# aioice, on the server's thread, draws from `random` while hypothesis generates data here;
# hypothesis takes that for a strategy using `random` and warns. No strategy does.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(frames, min_size=1, max_size=8), join_first=st.booleans())
def test_garbage_gets_contract_errors_and_the_socket_stays_usable(
    background: Background, sequence: list[str | bytes], join_first: bool
) -> None:
    background.run(exchange(background, sequence, join_first))


async def slow_reader(bg: Background, sizes: list[int], wide: bool) -> None:
    """A joined socket that never reads, sent offers by another; what the server holds for
    it stays under its budget, and the sender is answered throughout."""
    hub = bg.server.app[HUB]
    sockets, peer_ids = [], []
    try:
        for _ in range(2):
            grant = await bg.server.ok(
                "POST", f"/rooms/{bg.fuzz_room}/join-token", bg.clinic.member.token
            )
            ws = await bg.server.session.ws_connect(bg.server.signal_url)
            sockets.append(ws)
            await ws.send_json({"type": "join", "token": grant["token"]})
            joined = await ws.receive_json(timeout=5)
            assert joined["type"] == "joined"
            peer_ids.append(joined["peer_id"])
        sender, target = sockets[1], peer_ids[0]  # the first never reads
        for size in sizes:
            sdp = ("\u00e9" if wide else "v") * size  # two UTF-8 bytes a character, or one
            frame = json.dumps({"type": "offer", "to": target, "sdp": sdp}, ensure_ascii=False)
            await sender.send_str(frame)
            assert hub.queued_bytes <= OUTBOX_BYTES + 2 * MAX_FRAME_BYTES
        await sender.send_str('{"type": "ping"}')
        while (answer := await sender.receive_json(timeout=10))["type"] != "pong":
            assert answer["type"] in ("peer_left", "error"), answer
    finally:
        for ws in sockets:
            await ws.close()


@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.integers(1, MAX_FRAME_BYTES // 2 - 100), min_size=1, max_size=60),
    wide=st.booleans(),
)
def test_a_slow_reader_holds_no_more_than_its_budget(
    background: Background, sizes: list[int], wide: bool
) -> None:
    background.run(slow_reader(background, sizes, wide))


def test_the_other_rooms_call_kept_flowing(background: Background) -> None:
    before = background.run(background.frames_received())
    background.run(asyncio.sleep(1.5))
    assert background.run(background.frames_received()) > before + 10
    assert background.server.app  # still serving
