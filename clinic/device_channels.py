"""The device channel (PROTOCOL.md section 4): config and commands out, heartbeats in."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from clinic.alerts import Alerts
from clinic.fallback import ClinicFallback, enabled, reported
from clinic.keys import ClinicKeys
from clinic.presence import Presence
from clinic.storage import DeviceRecord, Storage
from kiosk.signalling.channel import (
    CommandResultMsg,
    Heartbeat,
    config_message,
    send_json,
)

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4409


class DeviceChannels:
    """The open channel of every connected device."""

    def __init__(self, alerts: Alerts, storage: Storage, keys: ClinicKeys) -> None:
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self.alerts = alerts
        self._storage = storage
        self._keys = keys
        self._reports: dict[str, dict[str, Any]] = {}  # the fallback part of the last heartbeat
        self.presence = Presence(storage)

    def connected(self, device_id: str) -> bool:
        return device_id in self._sockets

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        return await send_json(self._sockets.get(device_id), message)

    async def push_config(self, device: DeviceRecord) -> None:
        """A new config: to the device if it is connected, and to the offline watch."""
        self.alerts.interval(device.id, _heartbeat_s(device.config))
        if self.connected(device.id):
            await self.send(device.id, await self._config_message(device))

    async def _config_message(
        self, device: DeviceRecord, clinic: ClinicFallback | None = None
    ) -> dict[str, Any]:
        grant = None
        if enabled(device.config):
            clinic = clinic or await ClinicFallback.load(
                self._storage, self._keys, device.clinic_id
            )
            grant = clinic.grant_for(device)
        return config_message(device.config_version, device.config, grant)

    async def fallback_changed(self, clinic_id: str) -> None:
        """A device's key, a host's addresses or the revoked devices changed: every
        device of the clinic hears."""
        clinic = await ClinicFallback.load(self._storage, self._keys, clinic_id)
        for device in clinic.devices.values():
            if self.connected(device.id):
                await self.send(device.id, await self._config_message(device, clinic))

    async def close(self, device_id: str, code: int, reason: str) -> None:
        self.alerts.forget(device_id)
        self.presence.forget(device_id)
        ws = self._sockets.pop(device_id, None)
        if ws is not None:
            await ws.close(code=code, message=reason.encode())

    async def close_all(self) -> None:
        for device_id in list(self._sockets):
            await self.close(device_id, WSCloseCode.GOING_AWAY, "server shutting down")

    async def serve(
        self, request: web.Request, storage: Storage, device: DeviceRecord
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=256 * 1024, heartbeat=30)
        await ws.prepare(request)
        old = self._sockets.get(device.id)
        if old is not None:  # a reconnect while the old socket lingers: the new one wins
            await old.close(code=CLOSE_REPLACED, message=b"replaced by a new connection")
        self._sockets[device.id] = ws
        self._reports[device.id] = reported(device)
        log.info("device %s connected", device.id)
        self.alerts.connected(device.id, device.clinic_id, device.name, _heartbeat_s(device.config))
        try:
            await self.presence.connected(device)
            await ws.send_str(json.dumps(await self._config_message(device)))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._receive(storage, device, msg.data, ws)
        finally:
            if self._sockets.get(device.id) is ws:
                del self._sockets[device.id]
                self.alerts.disconnected(device.id)
                await self.presence.disconnected(device.id)
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
                await self.presence.heartbeat(device_id, status)
                self.alerts.heartbeat(device_id, dict(beat.peripherals))
                report = status.get("fallback") or {}
                if report != self._reports.get(device_id):
                    self._reports[device_id] = report
                    await self.fallback_changed(device.clinic_id)
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
