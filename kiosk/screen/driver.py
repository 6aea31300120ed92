"""Drives the room's screen: when the daemon's state changes (or each second, for the
clock), it becomes a scene for the painter's thread, which the call feeds its pictures
straight. A box without a screen never composes anything."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import av

from hal import Display
from kiosk.controller import Action, ButtonAction
from kiosk.screen.painter import Painter
from kiosk.screen.scene import SELF, Scene, scene
from kiosk.screen.view import Connection, Participant, Video, View

if TYPE_CHECKING:
    from kiosk.daemon import Daemon

log = logging.getLogger(__name__)

MAX_FPS = 30.0  # pictures never come faster: a 60 Hz screen is shown at most 30 frames
NO_SCREEN_POLL_S = 1.0
TICK_S = 1.0  # with nothing new, the view is looked at again after this long
PAUSED_AFTER_S = 2.5  # no new picture this long: marked, and the old one not shown

ENROLL_HINT = (
    "1. In the clinic's admin page (/admin), add this device: you get a one-time code.",
    "2. On this box: kiosk enroll CODE --clinic-url https://your-clinic",
    "   or put the code in kiosk-enroll.toml on the SD card's boot partition.",
)

_DOING = {
    Action.LEAVE: "Leave the call",
    Action.TOGGLE_MUTE: "Mute or unmute",
    Action.TOGGLE_CAMERA: "Camera off or on",
    Action.ANSWER_NEXT_PATIENT: "Answer the next patient",
}


def serial_number(
    cpuinfo: Path = Path("/proc/cpuinfo"), machine_id: Path = Path("/etc/machine-id")
) -> str:
    """The Pi's serial number (the one on its label's QR code), else the machine id."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Serial" and value.strip():
                return value.strip().lstrip("0") or value.strip()
    except OSError:
        pass
    try:
        return machine_id.read_text().strip()[:16]
    except OSError:
        return ""


def button_lines(buttons: dict[int, ButtonAction], room_names: dict[str, str]) -> tuple[str, ...]:
    said = []
    for number, button in sorted(buttons.items()):
        if button.action is Action.JOIN:
            room = room_names.get(button.room_id or "", button.room_id or "")
            said.append(f"{number}   Join {room}")
        else:
            said.append(f"{number}   {_DOING[button.action]}")
    return tuple(said)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class Screen:
    def __init__(
        self,
        daemon: Daemon,
        display: Display,
        clock: Callable[[], str] = lambda: time.strftime("%H:%M"),
    ) -> None:
        self._daemon = daemon
        self._display = display
        self._clock = clock
        self._serial = serial_number()
        self._painter: Painter | None = None
        self._wake = asyncio.Event()
        self._live: set[str] = set()  # the pictures the last view showed

    @property
    def composed(self) -> int:
        """Times the compose path ran (never, without a screen)."""
        return self._painter.composed if self._painter else 0

    @property
    def shown(self) -> int:
        """Frames put on the screen."""
        return self._painter.shown if self._painter else 0

    def view(self, now: float) -> View:
        """What the screen should show now."""
        daemon = self._daemon
        c = daemon.controller
        manager = daemon.manager
        config = manager.config if manager else None
        engine = daemon.engine
        call = engine.call
        if manager is not None and manager.connected:
            connection = Connection.CLOUD
        elif daemon.signalling.current == "local" or (manager and manager.fallback.enabled):
            connection = Connection.LOCAL
        else:
            connection = Connection.UNREACHABLE
        live = set()
        participants = []
        if call is not None and c.state.value == "in_call":
            for peer_id in call.order:
                link = call.links.get(peer_id)
                if link is None:
                    continue
                if not link.video_at:
                    video = Video.OFF
                elif now - link.video_at > PAUSED_AFTER_S:
                    video = Video.PAUSED
                else:
                    video = Video.LIVE
                    live.add(peer_id)
                participants.append(Participant(peer_id, link.name, link.muted(now), video))
            if call.video.latest is not None:
                live.add(SELF)
        self._live = live
        room_id = call.room_id if call is not None else c.room_id
        return View(
            state=c.state.value,
            box_name=config.name if config else "",
            serial=self._serial,
            connection=connection,
            clock=self._clock(),
            buttons=button_lines(dict(c.buttons), engine.room_names),
            waiting=c.waiting,
            room=engine.names().get(room_id or "", room_id or ""),
            problem=c.last_error or "",
            participants=tuple(participants),
            duration=duration(now - call.started) if call is not None else "",
            muted=c.muted,
            camera_off=c.camera_off,
            identify=c.identify,
            enroll_hint=ENROLL_HINT,
        )

    async def run(self) -> None:
        """Until cancelled. Looks at the daemon again at each of its events, at a
        participant's first picture, and each second (the clock, a call's duration, a
        picture that stopped); the painter draws a scene only when it changed."""
        self._daemon.observe(self._wake.set)
        drawn: Scene | None = None
        try:
            while True:
                mode = self._display.mode
                if mode is None:  # no screen (or it went away): nothing is composed
                    await self._stop_painter()
                    await asyncio.sleep(NO_SCREEN_POLL_S)
                    continue
                if self._painter is None or self._painter.mode != mode:
                    log.info("screen %s", mode)
                    await self._stop_painter()
                    interval_s = 1 / min(mode.refresh_hz, MAX_FPS)
                    self._painter = Painter(self._display, mode, interval_s)
                    self._daemon.engine.on_picture = self._picture
                    drawn = None
                self._wake.clear()
                now = scene(self.view(time.monotonic()), mode.width, mode.height)
                if now != drawn:
                    self._painter.scene(now)
                    drawn = now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TICK_S)
        finally:
            await self._stop_painter()

    def _picture(self, key: str | None, frame: av.VideoFrame, arrived: float) -> None:
        tile = SELF if key is None else key
        if self._painter is not None:
            self._painter.picture(tile, frame, arrived)
        if tile not in self._live:  # its first picture: the scene gets a place for it
            self._wake.set()

    async def _stop_painter(self) -> None:
        self._daemon.engine.on_picture = None  # nobody is handed pictures for it
        painter, self._painter = self._painter, None
        if painter is not None:
            await asyncio.to_thread(painter.stop)

    def latency_ms(self) -> dict[str, float] | None:
        """Decoded picture -> on the screen: median and 95th percentile, in ms."""
        latencies = list(self._painter.latencies) if self._painter else []
        if len(latencies) < 2:
            return None
        cuts = statistics.quantiles(latencies, n=20)
        return {
            "median": round(statistics.median(latencies) * 1000, 1),
            "p95": round(cuts[-1] * 1000, 1),
            "count": len(latencies),
        }

    async def png(self) -> bytes | None:
        """What the screen shows now, as a PNG; None without a screen."""
        return await self._encode("PNG")

    async def jpeg(self) -> bytes | None:
        return await self._encode("JPEG")

    async def _encode(self, kind: str) -> bytes | None:
        painter = self._painter
        if painter is None or painter.shown == 0:
            return None
        return await asyncio.to_thread(_encode, painter, kind)


def _encode(painter: Painter, kind: str) -> bytes:
    from PIL import Image

    rgb = painter.canvas_copy()[..., 2::-1]  # B, G, R, X -> R, G, B
    out = io.BytesIO()
    Image.fromarray(rgb.copy()).save(out, kind, **({"quality": 80} if kind == "JPEG" else {}))
    return out.getvalue()
