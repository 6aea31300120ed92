"""Management of the box by its clinic: enrollment state, config, commands, heartbeats.

Owns the channel task. Talks to the rest of the daemon only through the `Daemon` it is
given (events into the state machine, status out).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kiosk.controller import (
    Action,
    ButtonAction,
    ConfigApplied,
    Identify,
    PatientsWaiting,
    RemoteCommand,
    Unenrolled,
)
from kiosk.management import hardware
from kiosk.management.backoff import Backoff
from kiosk.management.channel import ChannelClient
from kiosk.management.enroll import enroll, enroll_from_file
from kiosk.management.fallback import LanFallback
from kiosk.management.persist import StorageProblem
from kiosk.management.state import Credential, DeviceState
from kiosk.signalling.channel import FallbackGrant
from kiosk.signalling.device_config import DeviceConfig
from kiosk.signalling.validation import problems
from kiosk.version import SOFTWARE_VERSION

if TYPE_CHECKING:
    from kiosk.daemon import Daemon

log = logging.getLogger(__name__)

EXIT_RESTART = 75  # EX_TEMPFAIL: systemd's Restart=on-failure starts the daemon again


def controller_event(config: DeviceConfig) -> ConfigApplied:
    buttons = {
        int(number): ButtonAction(Action(button.action), button.room_id)
        for number, button in config.buttons.items()
    }
    return ConfigApplied(
        buttons, auto_leave_minutes=config.auto_leave_minutes, chime=config.waiting.chime
    )


class Manager:
    def __init__(
        self,
        daemon: Daemon,
        state: DeviceState,
        enrollment_file: Path | None,
        backoff: Backoff | None = None,
        fallback: LanFallback | None = None,
    ) -> None:
        self._daemon = daemon
        self._state = state
        self.fallback = fallback or LanFallback(state, "127.0.0.1")
        self._enrollment_file = enrollment_file
        self._backoff = backoff or Backoff()
        self.credential: Credential | None = None
        self.config: DeviceConfig | None = None
        self.config_version: int | None = None
        self.config_error: str | None = None
        self.connected = False
        self._enrolled = asyncio.Event()
        self._channel: ChannelClient | None = None

    async def restore(self) -> None:
        """What the state directory holds (credential, last good config, fallback grant)
        in force before the daemon says it is ready; offline too."""
        await asyncio.to_thread(self._state.remove_leftovers)
        credential = await asyncio.to_thread(self._state.credential)
        if credential is not None:
            await self._restore(credential)

    async def _restore(self, credential: Credential) -> None:
        self.credential = credential
        await self.fallback.load()
        cached = await asyncio.to_thread(self._state.config)
        if cached is not None:
            await self._apply(cached.version, cached.config, None)

    @property
    def storage_problem(self) -> StorageProblem | None:
        return self._state.problem

    async def run(self) -> None:
        """Until cancelled: enrolled, connected, and again after a revocation.

        Whatever goes wrong in here is logged and tried again: management failing must
        not take the box (and a call it may be in) down with it.
        """
        retry = Backoff(initial_s=1.0, cap_s=60.0)
        while True:
            try:
                await self._run_once()
            except Exception:
                delay = retry.next_delay()
                log.exception("management failed; starting it again in %.0f s", delay)
                self.connected = False
                await asyncio.sleep(delay)
            else:
                retry.reset()

    async def _run_once(self) -> None:
        """Enroll if needed, then hold the channel until revoked."""
        credential = self.credential
        if credential is None:
            credential = await asyncio.to_thread(self._state.credential)
            if credential is None and self._enrollment_file is not None:
                credential = await enroll_from_file(
                    self._enrollment_file, self._state, self._backoff
                )
            if credential is None:
                log.info("not enrolled: `kiosk enroll CODE --clinic-url URL` enrolls this box")
                self._enrolled.clear()
                await self._enrolled.wait()
                return
            await self._restore(credential)
        self._channel = ChannelClient(credential, self, self._backoff)
        try:
            await self._channel.run()  # returns only when revoked
        finally:
            self._channel = None
        await self.fallback.forget()
        await asyncio.to_thread(self._state.forget)
        self.credential, self.config, self.config_version = None, None, None
        self._daemon.dispatch(Unenrolled("revoked by the clinic"))

    async def enroll(self, clinic_url: str, code: str) -> Credential:
        """`kiosk enroll` while the daemon runs."""
        if self.credential is not None:
            raise ValueError(f"already enrolled as {self.credential.device_id}")
        credential = await enroll(clinic_url, code, self._state)
        self._enrolled.set()
        return credential

    # ---- what the channel reports -----------------------------------------------------

    def on_connection(self, connected: bool) -> None:
        self.connected = connected
        self._daemon.refresh_signalling(
            "the clinic answers" if connected else "the clinic is unreachable"
        )

    def on_waiting(self, count: int) -> None:
        self._daemon.dispatch(PatientsWaiting(count))

    def on_room_names(self, names: dict[str, str]) -> None:
        self._daemon.engine.room_names = names

    async def on_config(
        self, version: int, data: dict[str, Any], fallback: dict[str, Any] | None = None
    ) -> None:
        try:
            config = DeviceConfig.model_validate(data)
            grant = FallbackGrant.model_validate(fallback) if fallback is not None else None
        except ValidationError as exc:
            # keep the last good config; the admin sees why in the next heartbeat
            self.config_error = "; ".join(problems(exc, root="config"))
            log.error("rejected config version %d: %s", version, self.config_error)
            return
        self.config_error = None
        # in force first: a card that cannot take it must not keep it from the box
        await self._apply(version, config, grant)
        await asyncio.to_thread(self._state.save_config, version, config.model_dump(mode="json"))

    async def _apply(self, version: int, config: DeviceConfig, grant: FallbackGrant | None) -> None:
        assert self.credential is not None
        before = self.fallback.report()
        await self.fallback.apply(self.credential, config.fallback, grant)
        if self.fallback.report() != before and self._channel is not None:
            self._channel.beat_now()  # the clinic learns the key or the host's address now
        self._daemon.refresh_signalling("device config applied")
        if self.config == config and self.config_version == version:
            return
        log.info("device config version %d applied", version)
        self.config, self.config_version = config, version
        self._daemon.dispatch(controller_event(config))

    async def on_command(self, command_id: str, action: str) -> tuple[bool, str | None]:
        log.info("command %s from the clinic: %s", command_id, action)
        match action:
            case "leave" | "mute":
                return await self._daemon.remote_command(RemoteCommand(action, command_id))
            case "identify":
                self._daemon.dispatch(Identify())
                return True, "blinking every LED for 10 s"
            case "reload_config":
                if self._channel is not None:
                    self._channel.reconnect()  # the clinic sends the config on connect
                return True, "reloading"
            case "restart":
                # answer first, then stop: systemd starts the daemon again
                asyncio.get_running_loop().call_later(0.5, self._daemon.stop, EXIT_RESTART)
                return True, "restarting"
        return False, f"unknown command {action!r}"

    def on_revoked(self) -> None:
        log.warning("this device was revoked; forgetting its credential")

    def heartbeat_seconds(self) -> float:
        return float(self.config.heartbeat_seconds if self.config else 15)

    def heartbeat(self) -> dict[str, Any]:
        status = self._daemon.status()
        beat: dict[str, Any] = {
            "type": "heartbeat",
            "state": status["state"],
            "room_id": status["room_id"],
            "signalling": status["signalling"],
            "peripherals": status["peripherals"],
            "software_version": SOFTWARE_VERSION,
            "uptime_s": status["uptime_s"],
            "config_version": self.config_version,
        }
        temp = hardware.cpu_temp_c()
        if temp is not None:
            beat["cpu_temp_c"] = temp
        if self.config_error:
            beat["config_error"] = self.config_error
        if status["storage_problem"]:
            beat["storage_problem"] = status["storage_problem"]
        if status["uplink"] != "ok":
            beat["uplink"] = status["uplink"]
        if status["turn_problem"]:
            beat["turn_problem"] = status["turn_problem"]
        report = self.fallback.report()
        if report is not None:
            beat["fallback"] = report
        switches = self._daemon.signalling.take_unreported()
        if switches:
            beat["signalling_switches"] = switches
        return beat
