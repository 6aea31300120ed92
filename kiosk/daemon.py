"""The running box: HAL events into the state machine, its commands out to the hardware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from hal import ButtonKind, Hal, HalError, HealthState
from kiosk.call.engine import CallEngine
from kiosk.chime import FRAME_S, chime_frames
from kiosk.config import Settings
from kiosk.controller import (
    ButtonPressed,
    CancelTimer,
    Command,
    CommandResult,
    Controller,
    Event,
    JoinFailed,
    JoinNextPatient,
    JoinRoom,
    JoinSucceeded,
    LeaveCall,
    LeaveFinished,
    NobodyWaiting,
    PeripheralsChanged,
    PlayChime,
    RemoteCommand,
    SetCamera,
    SetMicrophone,
    ShowLeds,
    SignallingChanged,
    StartTimer,
    TimerFired,
)
from kiosk.errors import InvalidTransitionError
from kiosk.management.clinic_api import (
    ClinicApi,
    ClinicApiError,
    ClinicUnreachableError,
    NobodyWaitingError,
)
from kiosk.management.fallback import FallbackUnavailableError
from kiosk.management.route import Route, SignallingMode
from kiosk.signalling.client import JoinError, SignallingClient
from kiosk.timers import Timers
from kiosk.version import SOFTWARE_VERSION

if TYPE_CHECKING:
    from kiosk.management.manager import Manager
    from kiosk.screen.driver import Screen

log = logging.getLogger(__name__)

# a hub that cannot be reached (as opposed to one that refuses): try the next one
UNREACHABLE = ("unreachable", "timeout", "closed")


class Daemon:
    """Owns the controller and carries out its commands on the HAL."""

    def __init__(self, settings: Settings, hal: Hal, stopped: asyncio.Event | None = None) -> None:
        self.settings = settings
        self.hal = hal
        self.controller = Controller()
        self.timers = Timers(lambda name: self.dispatch(TimerFired(name)))
        self.started_at = time.monotonic()
        self.last_press: dict[str, Any] | None = None
        self._queue: deque[Event] = deque()
        self._dispatching = False
        self._observers: list[Callable[[], None]] = []
        self._results: dict[str, asyncio.Future[tuple[bool, str | None]]] = {}
        self.manager: Manager | None = None
        self.screen: Screen | None = None
        self.engine = CallEngine(hal, settings.noise_suppression)
        self.signalling = SignallingMode()
        self._call_route: Route | None = None
        self._call_work: asyncio.Task[None] | None = None
        self._chime: asyncio.Task[None] | None = None
        self.chimes = 0  # chimes played (status)
        # set by a signal (in `kiosk run`) or by the daemon itself (a restart command)
        self.stopped = stopped or asyncio.Event()
        self.exit_code = 0

    def stop(self, exit_code: int = 0) -> None:
        """Ask `kiosk run` to shut down (signal, or the clinic's restart command)."""
        self.exit_code = exit_code
        self.stopped.set()

    async def remote_command(self, event: RemoteCommand) -> tuple[bool, str | None]:
        """Feed a clinic command to the state machine; its CommandResult is the answer."""
        future: asyncio.Future[tuple[bool, str | None]] = asyncio.get_running_loop().create_future()
        self._results[event.command_id] = future
        try:
            self.dispatch(event)
            async with asyncio.timeout(10):
                return await future
        finally:
            self._results.pop(event.command_id, None)

    def observe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every event (the terminal status line)."""
        self._observers.append(callback)

    def start(self) -> None:
        self._execute_all(self.controller.start())
        self._notify()

    def dispatch(self, event: Event) -> None:
        """Feed ``event`` to the state machine and carry out what it asks, in order.

        Commands may produce events of their own; they are queued, never nested.
        """
        self._queue.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                current = self._queue.popleft()
                try:
                    commands = self.controller.handle(current)
                except InvalidTransitionError as exc:
                    log.error("ignored event: %s", exc)
                    continue
                self._execute_all(commands)
        finally:
            self._dispatching = False
        self._notify()

    def _execute_all(self, commands: list[Command]) -> None:
        for command in commands:
            self._execute(command)

    def _execute(self, command: Command) -> None:
        match command:
            case ShowLeds(pattern):
                for name, mode in pattern.items():
                    if name in self.hal.leds.names:
                        self.hal.leds.set(name, mode)
            case StartTimer(name, seconds):
                self.timers.start(name, seconds)
            case CancelTimer(name):
                self.timers.cancel(name)
            case JoinRoom(room_id):
                self._call_step(self._join(room_id))
            case JoinNextPatient():
                self._call_step(self._join(None))
            case LeaveCall(reason):
                log.info("leaving: %s", reason)
                self._call_step(self._leave())
            case SetMicrophone(muted):
                log.info("microphone %s", "muted" if muted else "live")
                self.engine.set_muted(muted)
            case SetCamera(enabled):
                log.info("camera %s", "on" if enabled else "off (privacy)")
                self.engine.set_camera(enabled)
            case PlayChime():
                if self._chime is None or self._chime.done():
                    self._chime = asyncio.create_task(self._play_chime(), name="chime")
            case CommandResult(command_id, ok, message):
                log.info("command %s: %s %s", command_id, "ok" if ok else "failed", message or "")
                future = self._results.get(command_id)
                if future is not None and not future.done():
                    future.set_result((ok, message))

    # ---- the call: one step at a time (a leave cancels a join still under way) ---------

    def _call_step(self, step: Coroutine[Any, Any, None]) -> None:
        previous = self._call_work

        async def chained() -> None:
            if previous is not None and not previous.done():
                previous.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await previous
            await step

        self._call_work = asyncio.create_task(chained(), name="call")

    async def _join(self, room_id: str | None) -> None:
        manager = self.manager
        try:
            if manager is None or manager.credential is None or manager.config is None:
                raise ClinicApiError("not enrolled")
            joined = None
            failure: JoinError | None = None
            async for route, grant in self._grants(manager, room_id):
                try:
                    joined = await self.engine.join(
                        grant,
                        manager.config.name,
                        manager.config.video,
                        manager.config.audio,
                        rejoin=self._rejoin,
                    )
                except JoinError as exc:
                    if exc.code not in UNREACHABLE:
                        raise
                    log.warning("%s signalling: %s", route, exc)
                    failure = exc
                    continue
                self._call_route = route
                break
            if joined is None:
                raise failure or JoinError("unreachable", "no signalling server answered")
        except NobodyWaitingError:
            log.info("answering the next patient: nobody is waiting")
            self.dispatch(NobodyWaiting())
            return
        except (ClinicApiError, JoinError, FallbackUnavailableError) as exc:
            log.warning("join failed: %s", exc)
            self.dispatch(JoinFailed(str(exc)))
            return
        self.dispatch(JoinSucceeded(joined))

    async def _rejoin(self, resume: dict[str, str]) -> tuple[SignallingClient, dict[str, Any]]:
        """The running call lost its signalling: the same room again, through the clinic or
        the LAN, whichever answers (PROTOCOL.md section 6 resume). Raises until one does."""
        manager, call = self.manager, self.engine.call
        if manager is None or manager.credential is None or manager.config is None:
            raise ClinicApiError("not enrolled")
        if call is None:
            raise JoinError("closed", "the call has ended")
        failure: Exception | None = None
        # the clinic may be back before the channel notices: always ask it first
        async for route, grant in self._grants(manager, call.room_id, cloud_first=True):
            client = SignallingClient(self.engine.http(), str(grant["signal_url"]))
            try:
                joined = await client.join(str(grant["token"]), manager.config.name, resume)
            except JoinError as exc:
                failure = exc
                continue
            if self._call_route != route:
                self._call_route = route
                self.refresh_signalling(f"the call rejoined over {route} signalling")
            return client, joined
        raise failure or JoinError("unreachable", "no signalling server answered")

    async def _grants(
        self, manager: Manager, room_id: str | None, cloud_first: bool = False
    ) -> AsyncIterator[tuple[Route, dict[str, Any]]]:
        """Join grants to try in order: the clinic's, then (if it is gone) the LAN's."""
        assert manager.credential is not None
        assert manager.config is not None
        fallback = manager.fallback
        if self.signalling.current == "cloud" or cloud_first:
            api = ClinicApi(manager.credential, self.engine.http())
            try:
                if room_id is None:
                    grant = await api.next_patient_token()
                    if grant is None:
                        raise NobodyWaitingError("nobody is waiting")
                else:
                    grant = await api.join_token(room_id)
            except ClinicUnreachableError:
                if room_id is None or not fallback.enabled:
                    raise
                log.warning("the clinic does not answer; joining over the LAN fallback")
            else:
                yield "cloud", grant
            if not fallback.enabled:
                return
        if room_id is None:
            raise ClinicApiError("the waiting area needs the clinic, which is unreachable")
        async for grant in fallback.grants(manager.credential, room_id, manager.config.name):
            yield "local", grant

    def refresh_signalling(self, reason: str) -> None:
        """Cloud or local, after the clinic came or went, or a call ended."""
        manager = self.manager
        changed = self.signalling.decide(
            cloud_up=bool(manager and manager.connected),
            fallback_enabled=bool(manager and manager.fallback.enabled),
            call_route=self._call_route,
            reason=reason,
        )
        if changed:
            self.dispatch(SignallingChanged(self.signalling.current == "local"))

    async def _leave(self) -> None:
        await self.engine.leave()
        self._call_route = None
        self.refresh_signalling("call ended")
        self.dispatch(LeaveFinished())

    async def _play_chime(self) -> None:
        """A patient arrived: the chime, unless the speaker is broken or a call began."""
        log.info("a patient is waiting: chime")
        began = time.monotonic()
        try:
            for index, frame in enumerate(chime_frames()):
                if self.engine.call is not None:
                    return  # the call has the speaker now
                await self.hal.speaker.play(frame)
                # in real time, as the mixer plays: the speaker's queue is short
                await asyncio.sleep(max(0.0, began + (index + 1) * FRAME_S - time.monotonic()))
        except HalError as exc:
            log.warning("chime: %s", exc)
            return
        self.chimes += 1

    async def close(self) -> None:
        """Release the call and everything it holds (shut-down)."""
        if self._chime is not None:
            self._chime.cancel()
        if self._call_work is not None:
            self._call_work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._call_work
        await self.engine.close()

    def _notify(self) -> None:
        for callback in self._observers:
            callback()

    async def pump_buttons(self) -> None:
        async for event in self.hal.buttons:
            log.debug("button %d %s", event.number, event.kind)
            if event.kind is ButtonKind.PRESS:
                self.last_press = {"number": event.number, "at": event.time}
                self.dispatch(ButtonPressed(event.number))

    async def watch_health(self, period: float = 1.0) -> None:
        """Log every peripheral health change and an uplink too thin for the call; the
        error LED shows a degraded box."""
        previous, uplink = self.hal.health(), self.engine.uplink_state()
        storage = self.storage_problem()
        self.dispatch(PeripheralsChanged(self._degraded()))
        while True:
            await asyncio.sleep(period)
            current, now_uplink = self.hal.health(), self.engine.uplink_state()
            now_storage = self.storage_problem()
            for name, health in current.items():
                if health != previous.get(name):
                    log.warning(
                        "%s: %s%s",
                        name,
                        health.state,
                        f" ({health.reason})" if health.reason else "",
                    )
            if now_uplink != uplink:
                log.warning("uplink: %s", now_uplink)
            if current != previous or now_uplink != uplink or now_storage != storage:
                self.dispatch(PeripheralsChanged(self._degraded()))
            previous, uplink, storage = current, now_uplink, now_storage

    def _display_status(self) -> dict[str, Any]:
        display = self.hal.display
        mode = display.mode
        return {
            "state": display.health.state.value,
            "reason": display.health.reason,
            "mode": str(mode) if mode else None,
            "composed": self.screen.composed if self.screen else 0,
            "shown": self.screen.shown if self.screen else 0,
            "latency_ms": self.screen.latency_ms() if self.screen else None,
        }

    def storage_problem(self) -> dict[str, str] | None:
        """The state file that cannot be written, and why (the error LED is on)."""
        problem = self.manager.storage_problem if self.manager else None
        return problem.to_json() if problem else None

    def _degraded(self) -> bool:
        return (
            self.engine.uplink_state() != "ok"
            or self.storage_problem() is not None
            or any(h.state is not HealthState.OK for h in self.hal.health().values())
        )

    def journal_fields(self) -> dict[str, str]:
        """What every journal entry of the daemon carries (see `kiosk.logs.FIELDS`)."""
        credential = self.manager.credential if self.manager else None
        return {
            "KIOSK_STATE": self.controller.state.value,
            "KIOSK_ROOM_ID": self.controller.room_id or "",
            "KIOSK_DEVICE_ID": credential.device_id if credential else "",
        }

    def human_status(self) -> str:
        """One line for `systemctl status`."""
        c = self.controller
        text = c.state.value.replace("_", " ")
        if c.room_id:
            text += f" in {c.room_id} with {len(self.engine.peers())} others"
        flags = [name for name, on in (("muted", c.muted), ("camera off", c.camera_off)) if on]
        bad = [name for name, h in self.hal.health().items() if h.state is not HealthState.OK]
        if flags:
            text += "; " + ", ".join(flags)
        if bad:
            text += "; not working: " + ", ".join(bad)
        if self.engine.uplink_state() != "ok":
            text += "; uplink too thin for this call"
        storage = self.storage_problem()
        if storage:
            text += f"; cannot write {storage['path']} ({storage['reason']})"
        return text

    def status(self) -> dict[str, Any]:
        """The document `kiosk status --json` prints (PROTOCOL.md section 5, extended)."""
        c = self.controller
        health = self.hal.health()
        manager = self.manager
        credential = manager.credential if manager else None
        return {
            "state": c.state.value,
            "room_id": c.room_id,
            "room_names": self.engine.names(),  # as the clinic named them
            "signalling": self.signalling.current,
            "fallback": manager.fallback.status() if manager else None,
            "enrolled": credential is not None,
            "device_id": credential.device_id if credential else None,
            "clinic_url": credential.clinic_url if credential else None,
            "clinic_connected": bool(manager and manager.connected),
            "config_version": manager.config_version if manager else None,
            "config_error": manager.config_error if manager else None,
            "storage_problem": self.storage_problem(),
            "peripherals": {name: h.state.value for name, h in health.items()},
            "peripheral_problems": {n: h.reason for n, h in health.items() if h.reason},
            "peers": self.engine.peers(),
            "call": self.engine.call_events(),
            "speaker_level_dbfs": self.engine.speaker_level_dbfs(),
            "echo_cancellation": self.engine.echo.state(),
            "turn_problem": self.engine.turn_status(),
            "uplink": self.engine.uplink_state(),
            "video_encoders": self.engine.video_status(),
            "display": self._display_status(),
            "waiting": c.waiting,  # patients in the clinic's waiting area (None: not told)
            "chimes": self.chimes,
            "muted": c.muted,
            "camera_off": c.camera_off,
            "leds": {name: str(mode) for name, mode in self.hal.leds.state().items()},
            "last_error": c.last_error,
            "last_press": self.last_press,
            "hal": self.hal.backend,
            "software_version": SOFTWARE_VERSION,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
        }
