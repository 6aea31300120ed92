"""The call engine: join a room through signalling, one peer connection per participant
(the newcomer offers), media from the HAL, and everything released on leave."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import av

from hal import Hal
from kiosk.call.audio import MicrophoneTrack, Mixer
from kiosk.call.audio_encoder import SharedAudioEncoder
from kiosk.call.echo import EchoCanceller
from kiosk.call.peer import PeerLink
from kiosk.call.turn import check_all
from kiosk.call.video import PictureHook, VideoPipeline
from kiosk.call.video_source import VideoSource
from kiosk.management.backoff import Backoff
from kiosk.memory import release_free_memory
from kiosk.signalling.client import JoinError, SignallingClient
from kiosk.signalling.device_config import AudioConfig, VideoConfig

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0

SILENCE_S = 10.0  # no media from a peer this long: its connection is dead
LIVENESS_PERIOD_S = 1.0

# Signs the box in again after its signalling socket dropped (PROTOCOL.md section 6
# resume): takes {peer_id, resume_key}, gives the new connection and its `joined`.
Rejoin = Callable[[dict[str, str]], Awaitable[tuple[SignallingClient, dict[str, Any]]]]


class Call:
    """One joined room; made by :meth:`CallEngine.join`, ended by :meth:`CallEngine.leave`."""

    def __init__(
        self,
        hal: Hal,
        signalling: SignallingClient,
        joined: dict[str, Any],
        name: str,
        video: VideoConfig,
        muted: bool,
        camera_enabled: bool,
        echo: EchoCanceller,
        rejoin: Rejoin | None = None,
        on_picture: PictureHook | None = None,
        screen_on: Callable[[], bool] = lambda: False,
    ) -> None:
        self._on_picture = on_picture
        self.room_id = str(joined["room_id"])
        self.room_name = self.room_id  # its name, where the grant said it
        self.started = time.monotonic()
        self.peer_id = str(joined["peer_id"])
        self.resume_key: str | None = joined.get("resume_key")
        self._rejoin = rejoin
        self.rejoins = 0  # signalling losses survived
        self.links_rebuilt = 0  # peer connections found dead and offered again
        self.ice_servers: list[dict[str, Any]] = list(joined.get("ice_servers") or [])
        self._signalling = signalling
        self._codec = video.codec
        source = VideoSource(hal.camera, video.width, video.height, video.fps)
        source.camera_enabled = camera_enabled
        self.video = VideoPipeline(
            source, video.max_bitrate_kbps * 1000, video.codec, video.min_bitrate_kbps * 1000
        )
        self.video.on_picture = on_picture
        self.video.screen_on = screen_on
        self.microphone = MicrophoneTrack(hal.microphone, echo)
        self.microphone.muted = muted
        self.audio = SharedAudioEncoder(self.microphone)
        self.mixer = Mixer(hal.speaker, echo)
        self._echo = echo
        self.turn_problem: str | None = None  # the clinic's TURN server refused us, or is silent
        self.links: dict[str, PeerLink] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._initial = list(joined.get("peers") or [])
        # who the hub says is in the room: a dead link to anyone else is not rebuilt
        self.present = {str(peer["peer_id"]) for peer in self._initial}
        self.signalling_up = True
        self.order: list[str] = []  # peer ids in the order they came (the screen's tiles)

    def start(self) -> None:
        for coro, name in (
            (self.video.run(), "video"),
            (self.audio.run(), "audio"),
            (self.mixer.run(), "mixer"),
            (self._signal_loop(), "signalling"),
            (self._liveness(), "liveness"),
            (self._echo.prepare(), "echo"),
            (self._check_turn(), "turn"),
        ):
            self._spawn(coro, name)

    async def _check_turn(self) -> None:
        self.turn_problem = await check_all(self.ice_servers)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call task %s failed", task.get_name(), exc_info=task.exception())

    def _link(self, peer: dict[str, Any]) -> PeerLink:
        link = PeerLink(
            str(peer["peer_id"]),
            str(peer.get("name", "")),
            str(peer.get("role", "")),
            self.ice_servers,
            self.video.encoder,
            self.audio.subscribe(),
            self.mixer,
            self._codec,
            self._on_picture,
        )
        self.links[link.peer_id] = link
        if link.peer_id not in self.order:
            self.order.append(link.peer_id)
        return link

    async def _offer_to(self, peer: dict[str, Any]) -> None:
        link = self._link(peer)
        sdp = await link.offer()
        await self._signalling.send({"type": "offer", "to": link.peer_id, "sdp": sdp})

    async def _signal_loop(self) -> None:
        for peer in self._initial:  # the newcomer offers to everyone already there
            try:
                await self._offer_to(peer)
            except ConnectionError as exc:  # signalling lost already: the rejoin offers
                log.warning("cannot offer to %s: %s", peer.get("peer_id"), exc)
        names: dict[str, dict[str, Any]] = {}
        while True:
            async for message in self._signalling.messages():
                try:
                    await self._handle(message, names)
                except (ValueError, KeyError, TypeError, AttributeError, ConnectionError) as exc:
                    log.warning("signalling message %s not handled: %s", message.get("type"), exc)
            # media is peer to peer: the call goes on without signalling
            self.signalling_up = False
            if self._rejoin is None:
                log.warning("signalling closed; the call continues with the peers connected now")
                return
            log.warning("signalling closed; the call goes on peer to peer while it rejoins")
            await self._resume(names)

    async def _resume(self, names: dict[str, dict[str, Any]]) -> None:
        """Rejoin the same room as soon as a server answers; keep every live link."""
        assert self._rejoin is not None
        backoff = Backoff(initial_s=0.25, cap_s=2.0)
        while True:
            wanted = {"peer_id": self.peer_id, "resume_key": self.resume_key or ""}
            try:
                client, joined = await self._rejoin(wanted)
            except Exception as exc:  # any failure: the server is not back yet
                delay = backoff.next_delay()
                log.info("rejoin of %s failed (%s); again in %.1f s", self.room_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            break
        old, self._signalling = self._signalling, client
        await old.close()
        resumed = joined["peer_id"] == self.peer_id
        self.peer_id, self.resume_key = str(joined["peer_id"]), joined.get("resume_key")
        self.rejoins += 1
        peers = list(joined.get("peers") or [])
        self.present = {str(peer["peer_id"]) for peer in peers}
        self.signalling_up = True
        now = time.monotonic()
        kept = 0
        names.clear()  # who is here now; anyone still away says peer_joined on return
        for peer in peers:
            peer_id = str(peer["peer_id"])
            names[peer_id] = peer
            link = self.links.get(peer_id)
            if link is not None and link.alive(now, SILENCE_S):
                kept += 1
                continue  # media never stopped: no new offer
            if link is not None:
                self.links.pop(peer_id, None)
                await link.close()
            try:
                await self._offer_to(peer)
            except ConnectionError as exc:  # lost again: the next rejoin offers anew
                log.warning("cannot offer to %s after the rejoin: %s", peer_id, exc)
        log.warning(
            "rejoined %s as %s (%s); kept %d live links, offered to %d",
            self.room_id,
            self.peer_id,
            "the same peer" if resumed else "a new peer",
            kept,
            len(peers) - kept,
        )

    async def _handle(self, message: dict[str, Any], names: dict[str, dict[str, Any]]) -> None:
        match message.get("type"):
            case "peer_joined":
                peer = message["peer"]
                names[str(peer["peer_id"])] = peer  # it will offer (or, resumed, keeps its link)
                self.present.add(str(peer["peer_id"]))
            case "offer":
                sender = str(message["from"])
                old = self.links.pop(sender, None)
                if old is not None:  # a rebuilt connection replaces the old one
                    await old.close()
                link = self._link(names.get(sender, {"peer_id": sender}))
                sdp = await link.answer(str(message["sdp"]))
                await self._signalling.send({"type": "answer", "to": sender, "sdp": sdp})
            case "answer":
                offered = self.links.get(str(message["from"]))
                if offered is not None and offered.pc.signalingState == "have-local-offer":
                    await offered.accept(str(message["sdp"]))
            case "candidate":
                known = self.links.get(str(message["from"]))
                if known is not None:
                    await known.add_candidate(message.get("candidate"))
            case "peer_left":
                names.pop(str(message["peer_id"]), None)
                with contextlib.suppress(ValueError):
                    self.order.remove(str(message["peer_id"]))
                self.present.discard(str(message["peer_id"]))
                gone = self.links.pop(str(message["peer_id"]), None)
                if gone is not None:
                    log.info("%s left", gone.name or gone.peer_id)
                    await gone.close()
            case "error":
                log.warning("signalling error %s: %s", message.get("code"), message.get("message"))

    async def _liveness(self) -> None:
        """aiortc has no ICE restart and notices a dead peer only after 24-36 s: rebuild a
        connection that is failed or silent, through signalling, and leave the rest be."""
        while True:
            await asyncio.sleep(LIVENESS_PERIOD_S)
            now = time.monotonic()
            for peer_id, link in list(self.links.items()):
                if link.alive(now, SILENCE_S) or not self.signalling_up:
                    continue
                if peer_id not in self.present:  # gone while signalling was down
                    log.info("%s is gone", link.name or peer_id)
                    self.links.pop(peer_id, None)
                    with contextlib.suppress(ValueError):
                        self.order.remove(peer_id)
                    await link.close()
                    continue
                self.links_rebuilt += 1
                log.warning("connection to %s is dead (%s); rebuilding it",
                            link.name or peer_id, link.pc.connectionState)  # fmt: skip
                self.links.pop(peer_id, None)
                await link.close()
                try:
                    await self._offer_to({"peer_id": peer_id, "name": link.name, "role": link.role})
                except ConnectionError as exc:
                    log.warning("cannot rebuild: %s", exc)

    def set_muted(self, muted: bool) -> None:
        self.microphone.muted = muted

    def set_camera(self, enabled: bool) -> None:
        self.video.source.camera_enabled = enabled

    def peers(self) -> list[dict[str, Any]]:
        return [link.status() for link in self.links.values()]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(link.close() for link in self.links.values()))
        self.links.clear()
        self.microphone.stop()
        self.audio.close()
        self.video.close()
        await self._signalling.close()


class CallEngine:
    """At most one call at a time; joins and leaves on the daemon's commands."""

    def __init__(self, hal: Hal, noise_suppression: bool = False) -> None:
        self._hal = hal
        self._session: aiohttp.ClientSession | None = None
        self.call: Call | None = None
        self.muted = False
        self.camera_enabled = True
        self.echo = EchoCanceller(noise_suppression)
        # room id -> name of the rooms of the box's buttons, as the clinic's config said
        # (replaced, never grown: a patient's space is named by its call alone)
        self.room_names: dict[str, str] = {}
        self.on_picture: PictureHook | None = None  # a new picture, the box's own or a peer's

    def http(self) -> aiohttp.ClientSession:
        """The session for the clinic's API and signalling, kept while the daemon runs."""
        if self._session is None:
            # a LAN host that is switched off never refuses: give up on it quickly
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def join(
        self,
        grant: dict[str, Any],
        name: str,
        video: VideoConfig,
        audio: AudioConfig,
        rejoin: Rejoin | None = None,
    ) -> str:
        """Join the room of ``grant`` (a join-token answer); its room id, or JoinError.

        With ``rejoin`` the call survives the loss of its signalling socket."""
        if self.call is not None:
            raise JoinError("busy", f"already in {self.call.room_id}")
        signalling = SignallingClient(self.http(), str(grant["signal_url"]))
        joined = await signalling.join(str(grant["token"]), name)
        self.echo.enabled = audio.echo_cancellation
        call = Call(
            self._hal,
            signalling,
            joined,
            name,
            video,
            self.muted,
            self.camera_enabled,
            self.echo,
            rejoin,
            self._picture,
            lambda: self.on_picture is not None,
        )
        room_name = str(grant.get("room_name") or "")
        if room_name:
            call.room_name = room_name
        self.call = call
        call.start()
        log.info("in room %s as %s with %d others", call.room_id, call.peer_id,
                 len(joined.get("peers") or []))  # fmt: skip
        return call.room_id

    def names(self) -> dict[str, str]:
        """Room id -> name: the buttons' rooms, and the room of the call under way."""
        if self.call is None:
            return self.room_names
        return {**self.room_names, self.call.room_id: self.call.room_name}

    def _picture(self, key: str | None, frame: av.VideoFrame, at: float) -> None:
        # looked up at each picture: a screen plugged in during a call gets them too
        if self.on_picture is not None:
            self.on_picture(key, frame, at)

    async def leave(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            await call.close()
            release_free_memory()
            log.info("left %s", call.room_id)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if self.call is not None:
            self.call.set_muted(muted)

    def set_camera(self, enabled: bool) -> None:
        self.camera_enabled = enabled
        if self.call is not None:
            self.call.set_camera(enabled)

    def uplink_state(self) -> str:
        """``insufficient`` when the least this box sends is still more than a peer's link
        carries (another participant would not fit), else ``ok``."""
        if self.call is not None and any(
            e.uplink_insufficient for e in self.call.video.encoders.values()
        ):
            return "insufficient"
        return "ok"

    def turn_status(self) -> str | None:
        """Why the clinic's TURN server will not relay for this call, if it will not."""
        return self.call.turn_problem if self.call is not None else None

    def peers(self) -> list[dict[str, Any]]:
        return self.call.peers() if self.call is not None else []

    def call_events(self) -> dict[str, int] | None:
        """What the running call has survived so far (status)."""
        if self.call is None:
            return None
        return {"links_rebuilt": self.call.links_rebuilt, "rejoins": self.call.rejoins}

    def video_status(self) -> dict[str, dict[str, Any]]:
        """Per codec: how many senders share the encoder, frames and keyframes encoded."""
        if self.call is None:
            return {}
        return {
            codec: {
                "senders": len(encoder.subscribers),
                "frames_encoded": encoder.frames_encoded,
                "frames_from_camera": encoder.frames_from_camera,
                "keyframes": encoder.keyframes,
                "bitrate": encoder.target_bitrate(),
                "sent_bitrate": encoder.sent_bitrate(),
                "min_bitrate": encoder.rate.min_bitrate,
                "estimated_bitrate": encoder.estimated_bitrate(),
                "loss": encoder.loss(),
                "size": "{}x{}@{}".format(*encoder.ladder.size(), encoder.ladder.frame_rate()),
                "uplink_insufficient": encoder.uplink_insufficient,
            }
            for codec, encoder in self.call.video.encoders.items()
        }

    def speaker_level_dbfs(self) -> float | None:
        return round(self.call.mixer.level_dbfs(), 1) if self.call is not None else None

    async def close(self) -> None:
        await self.leave()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None
