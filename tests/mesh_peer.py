"""A real aiortc participant for tests: signalling over the real WebSocket, one peer
connection per remote peer (mesh, newcomer offers), fake-HAL media, counts what it gets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import aiohttp
import av
import numpy as np
import numpy.typing as npt
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from hal.audio import SILENCE_DBFS, level_dbfs
from hal.fake import FakeCamera, FakeMicrophone
from hal.tracks import CameraTrack, MicrophoneTrack
from kiosk.call.ice import close_peer_connection, rtc_configuration
from tests.encoded_video import EncodedVideo


def nobody(_peer: dict[str, Any]) -> bool:
    """``offer_to`` for a participant that only answers (linked to whoever joins later)."""
    return False


class MeshPeer:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        signal_url: str,
        token: str,
        name: str,
        send: bool = True,
        relay_only: bool = False,
        fps: int = 10,
        colour: tuple[int, int, int] | None = None,
        microphone: str = "tone:660",
        size: tuple[int, int] = (320, 240),
        offer_to: Callable[[dict[str, Any]], bool] | None = None,
        encoded: bool = False,
    ) -> None:
        self.offer_to = offer_to  # of those in the room at join, whom to call (default all)
        self.send_media = send
        self.relay_only = relay_only  # ICE through the TURN server only, as behind a strict NAT
        self.session = session
        self.signal_url = signal_url
        self.token = token
        self.name = name
        self.camera = FakeCamera(*size, fps, colour=colour)
        # the colour sent pre-encoded (VP8 only): a benchmark's callers cost next to nothing
        self.encoded = EncodedVideo(*size, fps, colour) if encoded and colour else None
        # not the kiosk's 440 Hz: AEC would cancel it; "silence" is a muted microphone
        self.microphone = FakeMicrophone(microphone)
        self.relay = MediaRelay()
        self.video_source: MediaStreamTrack | None = None
        self.audio_source: MediaStreamTrack | None = None
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.video_frames: Counter[str] = Counter()
        self.audio_frames: Counter[str] = Counter()
        self.last_video: dict[str, av.VideoFrame] = {}
        self.recent_audio: dict[str, deque[npt.NDArray[np.int16]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.peer_id = ""
        self.ice_servers: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        self.ws = await self.session.ws_connect(self.signal_url)
        self._spawn(self._read())

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def next_event(self, *types: str, timeout: float = 10) -> dict[str, Any]:
        """The next non-media message (of one of ``types`` when given)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if not types or event.get("type") in types:
                    return event

    async def join(self) -> dict[str, Any]:
        """Join; offers to everyone already there. Returns `joined` or the `error`."""
        if self.ws is None:
            await self.connect()
        await self.camera.start()
        await self.microphone.start()
        self.video_source = self.encoded or CameraTrack(self.camera)
        self.audio_source = MicrophoneTrack(self.microphone)
        await self.send({"type": "join", "token": self.token, "name": self.name})
        answer = await self.next_event("joined", "error")
        if answer["type"] == "joined":
            self.peer_id = answer["peer_id"]
            self.ice_servers = answer["ice_servers"]
            for peer in answer["peers"]:
                if self.offer_to is not None and not self.offer_to(peer):
                    continue
                pc = self._peer_connection(peer["peer_id"])
                await pc.setLocalDescription(await pc.createOffer())
                await self.send(
                    {"type": "offer", "to": peer["peer_id"], "sdp": pc.localDescription.sdp}
                )
        return answer

    def _peer_connection(self, remote: str) -> RTCPeerConnection:
        configuration = rtc_configuration(self.ice_servers)
        if self.relay_only:
            configuration.iceTransportPolicy = RTCIceTransportPolicy.RELAY
        pc = RTCPeerConnection(configuration)
        assert self.video_source is not None
        assert self.audio_source is not None
        if self.send_media:
            pc.addTrack(self.relay.subscribe(self.video_source))
            pc.addTrack(self.relay.subscribe(self.audio_source))
        else:  # a watcher: receives, sends nothing (benchmarks of the sender)
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._spawn(self._consume(track, remote))

        self.pcs[remote] = pc
        return pc

    async def _consume(self, track: MediaStreamTrack, remote: str) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    self.video_frames[remote] += 1
                    self.last_video[remote] = frame
                else:
                    self.audio_frames[remote] += 1
                    assert isinstance(frame, av.AudioFrame)
                    recent = self.recent_audio.setdefault(remote, deque(maxlen=25))
                    recent.append(frame.to_ndarray().reshape(-1).astype(np.int16))

    def audio_level(self, remote: str) -> float:
        """RMS dBFS of the last half second heard from ``remote``."""
        recent = self.recent_audio.get(remote)
        if not recent:
            return SILENCE_DBFS
        return level_dbfs(np.concatenate(list(recent)))

    def any_remote(self) -> str:
        return next(iter(self.pcs))

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            kind = data.get("type")
            if kind == "offer":
                old = self.pcs.pop(data["from"], None)
                if old is not None:  # the other side rebuilt the connection
                    await close_peer_connection(old)
                pc = self._peer_connection(data["from"])
                await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.send(
                    {"type": "answer", "to": data["from"], "sdp": pc.localDescription.sdp}
                )
            elif kind == "answer":
                pc = self.pcs[data["from"]]
                await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "answer"))
            elif kind == "peer_left":
                pc = self.pcs.pop(data["peer_id"], None)
                if pc is not None:
                    await close_peer_connection(pc)
                self.events.put_nowait(data)
            else:
                self.events.put_nowait(data)
        self.events.put_nowait({"type": "closed", "code": self.ws.close_code})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def media(self) -> dict[str, object]:
        """What it knows of each remote: connection states and frames decoded."""
        return {
            remote: {
                "connection": pc.connectionState,
                "ice": pc.iceConnectionState,
                "video_frames": self.video_frames[remote],
                "audio_frames": self.audio_frames[remote],
            }
            for remote, pc in self.pcs.items()
        }

    async def wait_for_media(self, remotes: int, frames: int = 5, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not (
                sum(1 for n in self.video_frames.values() if n >= frames) >= remotes
                and sum(1 for n in self.audio_frames.values() if n >= frames) >= remotes
            ):
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        # stop handling signalling first, so nothing closes a connection twice at once
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in list(self.pcs.values()):
            await close_peer_connection(pc)
        self.pcs.clear()
        if self.ws is not None:
            await self.ws.close()
        for source in (self.video_source, self.audio_source):
            if source is not None:
                source.stop()
        await self.camera.stop()
        await self.microphone.stop()
        # MediaRelay's reader tasks end at their next frame, at most one frame period away
        await asyncio.sleep(0.15)
