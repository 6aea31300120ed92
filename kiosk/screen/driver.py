"""Drives the room's screen: at most the display's rate, and only when something changed,
the daemon's state and the call's pictures become a scene, drawn on a worker thread and
shown. A box without a screen never composes anything."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import av

from hal import Display, HalError
from kiosk.controller import Action, ButtonAction
from kiosk.screen.compose import Composer
from kiosk.screen.scene import SELF, Scene, scene
from kiosk.screen.view import Connection, Participant, Video, View

if TYPE_CHECKING:
    from kiosk.daemon import Daemon

log = logging.getLogger(__name__)

MAX_FPS = 30.0  # pictures never come faster: a 60 Hz screen is composed at most 30 times
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
        self._composer: Composer | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen")
        self.composed = 0  # times the compose path ran (never, without a screen)
        self.shown = 0  # frames put on the screen
        self._failure: str | None = None
        # seconds from a participant's picture decoded to its frame on the screen
        self.latencies: deque[float] = deque(maxlen=3000)
        self._arrived: dict[str, float] = {}

    def view(self, now: float) -> tuple[View, dict[str, av.VideoFrame]]:
        """What the screen should show now, and the pictures it needs (peer id -> frame)."""
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
        frames: dict[str, av.VideoFrame] = {}
        self._arrived = {}
        participants = []
        if call is not None and c.state.value == "in_call":
            for peer_id in call.order:
                link = call.links.get(peer_id)
                if link is None:
                    continue
                if link.latest_video is None:
                    video = Video.OFF
                elif now - link.video_at > PAUSED_AFTER_S:
                    video = Video.PAUSED
                else:
                    video = Video.LIVE
                    frames[peer_id] = link.latest_video
                    self._arrived[peer_id] = link.video_at
                participants.append(Participant(peer_id, link.name, link.muted(now), video))
            own = call.video.latest
            if own is not None:
                frames[SELF] = own
        room_id = call.room_id if call is not None else c.room_id
        view = View(
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
        return view, frames

    async def run(self) -> None:
        """Until cancelled. Wakes for a new picture, an event of the daemon, or a second
        (the clock, a call's duration, a picture that stopped); composes at most at the
        display's rate."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self._daemon.observe(wake.set)
        last = 0.0
        try:
            while True:
                mode = self._display.mode
                if mode is None:  # no screen (or it went away): nothing is composed
                    self._composer = None
                    self._daemon.engine.on_picture = None  # and nobody is woken for it
                    await asyncio.sleep(NO_SCREEN_POLL_S)
                    continue
                if self._composer is None or self._composer.mode != mode:
                    log.info("screen %s", mode)
                    self._composer = Composer(mode)
                    self._daemon.engine.on_picture = wake.set
                wake.clear()
                view, frames = self.view(time.monotonic())
                drawn = scene(view, mode.width, mode.height)
                if self._composer.stale(drawn, frames):
                    arrived = self._arrived
                    last = time.monotonic()
                    try:
                        await loop.run_in_executor(self._pool, self._show, drawn, frames, arrived)
                    except Exception:  # a bug drawing must not take the box's calls down
                        log.exception("screen: drawing failed; drawn again from nothing")
                        self._composer = Composer(mode)
                        await asyncio.sleep(NO_SCREEN_POLL_S)  # not a log line per frame
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), TICK_S)
                pause = last + 1 / min(mode.refresh_hz, MAX_FPS) - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
        finally:
            self._daemon.engine.on_picture = None
            self._pool.shutdown(wait=True)

    def _show(
        self, drawn: Scene, frames: dict[str, av.VideoFrame], arrived: dict[str, float]
    ) -> None:
        composer = self._composer
        if composer is None:
            return
        self.composed += 1
        composer.compose(drawn, frames)
        try:
            self._display.show(composer.canvas)
        except HalError as exc:
            if str(exc) != self._failure:
                log.warning("screen: %s", exc)
                self._failure = str(exc)
            return
        self._failure = None
        self.shown += 1
        done = time.monotonic()
        for key in composer.last_drawn:
            if key in arrived:
                self.latencies.append(done - arrived[key])

    def latency_ms(self) -> dict[str, float] | None:
        """Decoded picture -> on the screen: median and 95th percentile, in ms."""
        if len(self.latencies) < 2:
            return None
        cuts = statistics.quantiles(self.latencies, n=20)
        return {
            "median": round(statistics.median(self.latencies) * 1000, 1),
            "p95": round(cuts[-1] * 1000, 1),
            "count": len(self.latencies),
        }

    async def png(self) -> bytes | None:
        """What the screen shows now, as a PNG; None without a screen."""
        if self._composer is None or self.shown == 0:
            return None
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._encode, "PNG")

    async def jpeg(self) -> bytes | None:
        if self._composer is None or self.shown == 0:
            return None
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._encode, "JPEG")

    def _encode(self, kind: str) -> bytes:
        from PIL import Image

        assert self._composer is not None
        rgb = self._composer.canvas[..., 2::-1]  # B, G, R, X -> R, G, B
        out = io.BytesIO()
        Image.fromarray(rgb.copy()).save(out, kind, **({"quality": 80} if kind == "JPEG" else {}))
        return out.getvalue()
