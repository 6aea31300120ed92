"""The device channel (PROTOCOL.md section 4): config and commands out, heartbeats in."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from clinic.alerts import Alerts
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

    def __init__(self, alerts: Alerts) -> None:
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self.alerts = alerts

    def connected(self, device_id: str) -> bool:
        return device_id in self._sockets

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        return await send_json(self._sockets.get(device_id), message)

    async def push_config(self, device_id: str, version: int, config: dict[str, Any]) -> None:
        """A new config: to the device if it is connected, and to the offline watch."""
        self.alerts.interval(device_id, _heartbeat_s(config))
        await self.send(device_id, config_message(version, config))

    async def close(self, device_id: str, code: int, reason: str) -> None:
        self.alerts.forget(device_id)
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
        log.info("device %s connected", device.id)
        self.alerts.connected(device.id, device.clinic_id, device.name, _heartbeat_s(device.config))
        try:
            await storage.record_heartbeat(device.id, None)
            await ws.send_str(json.dumps(config_message(device.config_version, device.config)))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._receive(storage, device.id, msg.data, ws)
        finally:
            if self._sockets.get(device.id) is ws:
                del self._sockets[device.id]
                self.alerts.disconnected(device.id)
            log.info("device %s disconnected", device.id)
        return ws

    async def _receive(
        self, storage: Storage, device_id: str, text: str, ws: web.WebSocketResponse
    ) -> None:
        problem: str | None = None
        try:
            data = json.loads(text)
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "heartbeat":
                beat = Heartbeat.model_validate(data)
                await storage.record_heartbeat(device_id, beat.model_dump(mode="json"))
                self.alerts.heartbeat(device_id, dict(beat.peripherals))
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
