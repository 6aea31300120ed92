"""The device channel (PROTOCOL.md section 4): config and commands out, heartbeats in.

Where several processes serve the clinic (``shared``, the bus), a device's channel is on
one of them; what is meant for it is forwarded there, and what it said is seen by all.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from clinic.alerts import Alerts
from clinic.bus.devices import DeviceBus
from clinic.consultations import GRACE_S
from clinic.fallback import FallbackFacts, hosting, hosts_named, reported
from clinic.keys import ClinicKeys
from clinic.presence import Presence
from clinic.storage import DeviceRecord, Storage
from clinic.waiting_news import WaitingNews, waiting_message
from kiosk.signalling.channel import (
    CommandResultMsg,
    Heartbeat,
    config_message,
    send_json,
)

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4409


@dataclass(frozen=True, slots=True)
class Sighting:
    device: DeviceRecord  # with what it said last, wherever it is connected
    connected: bool  # to any process

    @property
    def online(self) -> bool:
        return online(self.device, self.connected)


class DeviceChannels:
    """The open channel of every connected device."""

    def __init__(
        self,
        alerts: Alerts,
        storage: Storage,
        keys: ClinicKeys,
        shared: DeviceBus | None = None,
        grace_s: float = GRACE_S,
    ) -> None:
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self.alerts = alerts
        self._storage = storage
        self.waiting = WaitingNews(storage, self._tell_clinic, grace_s, shared)
        self.presence = Presence(storage, share=shared.heard if shared else None)
        self.fallback = FallbackFacts(storage, keys)
        self._shared = shared
        self._shared_id = shared.process_id if shared else ""
        if shared is not None:
            shared.on("device_send", self._forwarded_send)
            shared.on("device_config", self._forwarded_config)
            shared.on("device_replaced", self._replaced_elsewhere)
            shared.on("host_reported", self._host_reported_elsewhere)
            shared.on_orphans(alerts.adopt)
        # of the connected devices: their records as last configured, and who names whom
        # as a LAN host, so a change reaches the devices it concerns, not the whole clinic
        self._devices: dict[str, DeviceRecord] = {}
        self._dependents: dict[str, set[str]] = {}  # host id -> devices naming it

    def connected(self, device_id: str) -> bool:
        """To this process."""
        return device_id in self._sockets

    async def sightings(self, devices: list[DeviceRecord]) -> dict[str, Sighting]:
        """Each device as it is now (its record as stored, with what it said since)."""
        seen = {d.id: Sighting(self.presence.current(d), self.connected(d.id)) for d in devices}
        elsewhere = [d for d in devices if not self.connected(d.id)]
        if self._shared is not None and elsewhere:
            ids = [d.id for d in elsewhere]
            holders, said = await self._shared.holders(ids), await self._shared.said(ids)
            for d in elsewhere:
                at, status = said.get(d.id, (d.last_seen, d.status))
                if at is not None and (d.last_seen is None or at > d.last_seen):
                    d = dataclasses.replace(d, last_seen=at, status=status)
                seen[d.id] = Sighting(d, d.id in holders)
        return seen

    async def _tell_clinic(self, clinic_id: str, message: dict[str, Any]) -> None:
        """To the clinic's devices connected to this process."""
        for device_id in [d.id for d in self._devices.values() if d.clinic_id == clinic_id]:
            await send_json(self._sockets.get(device_id), message)

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        """To the device, wherever it is connected; False if it is not."""
        if device_id not in self._sockets and self._shared is not None:
            return await self._shared.send(device_id, message)
        return await send_json(self._sockets.get(device_id), message)

    async def _forwarded_send(self, data: dict[str, Any]) -> None:
        await send_json(self._sockets.get(data["device_id"]), data["message"])

    async def push_config(self, device: DeviceRecord) -> None:
        """A new config: to the device if it is connected, and to the offline watch."""
        self.alerts.interval(device.id, _heartbeat_s(device.config))
        if self.connected(device.id):
            self._track(device)
            await self.send(device.id, await self._config_message(device))
        elif self._shared is not None:
            await self._shared.push_config(device)

    async def _forwarded_config(self, data: dict[str, Any]) -> None:
        device = DeviceRecord(**data["device"])
        self.alerts.interval(device.id, _heartbeat_s(device.config))
        if self.connected(device.id):
            self._track(device)
            await self.send(device.id, await self._config_message(device))

    async def _replaced_elsewhere(self, data: dict[str, Any]) -> None:
        """The device connected to another process: this one lets its old socket go,
        and the other watches it."""
        device_id = data["device_id"]
        ws = self._sockets.pop(device_id, None)
        if ws is not None:
            self._untrack(device_id)
            self.alerts.forget(device_id)
            self.presence.disconnected(device_id)
            await ws.close(code=CLOSE_REPLACED, message=b"replaced by a new connection")

    async def _config_message(self, device: DeviceRecord) -> dict[str, Any]:
        grant = await self.fallback.grant_for(device)
        buttons = (device.config or {}).get("buttons") or {}
        wanted = {
            str(b["room_id"]) for b in buttons.values() if isinstance(b, dict) and b.get("room_id")
        }
        names = await self._storage.room_names(wanted)
        return config_message(device.config_version, device.config, grant, names)

    async def _resend_config(self, device_ids: set[str]) -> None:
        for device_id in sorted(device_ids):
            device = self._devices.get(device_id)
            if device is not None:
                await self.send(device_id, await self._config_message(device))

    def _track(self, device: DeviceRecord) -> None:
        self._untrack(device.id)
        self._devices[device.id] = device
        for host_id in hosts_named(device.config):
            self._dependents.setdefault(host_id, set()).add(device.id)

    def _untrack(self, device_id: str) -> None:
        device = self._devices.pop(device_id, None)
        if device is None:
            return
        for host_id in hosts_named(device.config):
            named_by = self._dependents.get(host_id, set())
            named_by.discard(device_id)
            if not named_by:
                self._dependents.pop(host_id, None)

    async def _reported(self, device: DeviceRecord, report: dict[str, Any]) -> None:
        """A device's heartbeat changed its fallback report: a new key needs a new
        credential (its own), new addresses reach the devices that name it as a host."""
        before = self.fallback.heard(device, report) or {}
        if report.get("public_key") != before.get("public_key"):
            await self._resend_config({device.id})
        where = ("addresses", "port")
        if any(report.get(k) != before.get(k) for k in where):
            await self._resend_config(self._dependents.get(device.id, set()))
            if self._shared is not None:
                await self._shared.host_reported(device.id, report)

    async def _host_reported_elsewhere(self, data: dict[str, Any]) -> None:
        """A host on another process moved: its dependents here hear where it is."""
        if data["origin"] != self._shared_id:
            self.fallback.learned(data["device_id"], data["report"])
            await self._resend_config(self._dependents.get(data["device_id"], set()))

    async def revoked(self, device: DeviceRecord) -> None:
        """The clinic's hosts refuse a revoked device offline; the devices that named it
        as a host stop looking for it."""
        self.fallback.revoked(device.id, device.clinic_id)
        hosts = {
            d.id for d in self._devices.values() if d.clinic_id == device.clinic_id and hosting(d)
        }
        await self._resend_config(hosts | self._dependents.get(device.id, set()))

    async def close(self, device_id: str, code: int, reason: str) -> None:
        """Revoked: its channel closes and nothing more of it is kept."""
        self.alerts.forget(device_id)
        self.presence.forget(device_id)
        self._untrack(device_id)
        ws = self._sockets.pop(device_id, None)
        if ws is not None:
            if self._shared is not None:
                self._shared.release(device_id)
            await ws.close(code=code, message=reason.encode())

    async def close_all(self) -> None:
        """Shutting down: what each device last said is written (the presence task's last
        flush), and no alert is raised for going."""
        for device_id, ws in list(self._sockets.items()):
            del self._sockets[device_id]
            self._untrack(device_id)
            self.alerts.forget(device_id, here_only=True)
            self.presence.disconnected(device_id)
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    async def serve(
        self, request: web.Request, storage: Storage, device: DeviceRecord
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=256 * 1024, heartbeat=30)
        await ws.prepare(request)
        old = self._sockets.get(device.id)
        if old is not None:  # a reconnect while the old socket lingers: the new one wins
            await old.close(code=CLOSE_REPLACED, message=b"replaced by a new connection")
        self._sockets[device.id] = ws
        self._track(device)
        self.fallback.heard(device, reported(device))
        log.info("device %s connected", device.id)
        interval = _heartbeat_s(device.config)
        peripherals = (device.status or {}).get("peripherals")
        self.alerts.connected(device.id, device.clinic_id, device.name, interval, peripherals)
        try:
            if self._shared is not None:
                await self._shared.claim(device, interval)
            self.presence.connected(device)
            await ws.send_str(json.dumps(await self._config_message(device)))
            count = await self.waiting.current(device.clinic_id)
            await ws.send_str(json.dumps(waiting_message(count)))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._receive(storage, device, msg.data, ws)
        finally:
            if self._sockets.get(device.id) is ws:
                del self._sockets[device.id]
                self._untrack(device.id)
                self.alerts.disconnected(device.id)
                self.presence.disconnected(device.id)
                if self._shared is not None:
                    self._shared.release(device.id)
            log.info("device %s disconnected", device.id)
        return ws

    async def _receive(
        self, storage: Storage, device: DeviceRecord, text: str, ws: web.WebSocketResponse
    ) -> None:
        device_id = device.id
        problem: str | None = None
        try:
            data = json.loads(text)
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "heartbeat":
                beat = Heartbeat.model_validate(data)
                status = beat.model_dump(mode="json")
                self.presence.heartbeat(device_id, status)
                self.alerts.heartbeat(device_id, dict(beat.peripherals))
                report = status.get("fallback") or {}
                if report != self.fallback.report(device_id):
                    await self._reported(self._devices.get(device_id, device), report)
            elif kind == "command_result":
                r = CommandResultMsg.model_validate(data)
                await storage.answer_command(device_id, r.command_id, r.ok, r.message)
            else:
                problem = f"unknown message type {kind!r}"
        except (ValueError, ValidationError) as exc:
            problem = str(exc)[:500]
        if problem is not None:
            error = {"type": "error", "code": "bad_message", "message": problem}
            await ws.send_str(json.dumps(error))


def online(device: DeviceRecord, connected: bool, now: float | None = None) -> bool:
    """Connected, and heard from within two heartbeat intervals."""
    if not connected or device.last_seen is None:
        return False
    interval = _heartbeat_s(device.config)
    return (time.time() if now is None else now) - device.last_seen <= 2 * interval


def _heartbeat_s(config: dict[str, Any]) -> float:
    return float(config.get("heartbeat_seconds", 15))
