"""Device channel messages (PROTOCOL.md section 4), shared by the clinic and the device."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kiosk.signalling.tokens import load_public_key

CHANNEL_PATH = "/api/v1/device/channel"
CLOSE_REVOKED = 4403

CommandAction = Literal["leave", "mute", "restart", "reload_config", "identify"]
PeripheralState = Literal["ok", "missing", "error"]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="allow")


class FallbackReport(_Msg):
    """What a device tells the clinic for the LAN fallback (an extension of the heartbeat)."""

    public_key: str = Field(min_length=1, max_length=1000)  # PEM of its Ed25519 key
    addresses: list[str] = Field(default_factory=list, max_length=16)
    port: int | None = Field(None, ge=1, le=65535)  # set while it hosts a fallback hub

    @field_validator("public_key")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        try:
            load_public_key(value)
        except ValueError:
            raise ValueError("public_key is not the PEM of an Ed25519 public key") from None
        return value

    @field_validator("addresses")
    @classmethod
    def _ip_addresses(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(address)) for address in value]


class SignallingSwitch(_Msg):
    to: Literal["cloud", "local"]
    at: float
    reason: str = Field("", max_length=200)


class FallbackHost(_Msg):
    device_id: str
    addresses: list[str] = Field(default_factory=list, max_length=16)
    port: int = Field(ge=1, le=65535)


class FallbackGrant(_Msg):
    """What the clinic gives a device for the LAN fallback, with every config message."""

    clinic_public_key: str
    hosts: list[FallbackHost] = Field(default_factory=list)
    credential: str | None = None  # none until the device has reported its public key
    expires_at: int | None = None
    revoked: list[str] = Field(default_factory=list)  # devices hosts must refuse offline


class StorageReport(_Msg):
    """A state file the device cannot write (full or read-only card), and why."""

    path: str = Field(max_length=4096)
    reason: str = Field(max_length=500)


class Heartbeat(_Msg):
    type: Literal["heartbeat"]
    state: Literal["idle", "joining", "in_call", "leaving", "error", "not_enrolled"]
    room_id: str | None = None
    signalling: Literal["cloud", "local"] = "cloud"
    peripherals: dict[str, PeripheralState] = Field(default_factory=dict)
    software_version: str = Field("", max_length=64)
    uptime_s: float = 0
    cpu_temp_c: float | None = None
    config_version: int | None = None
    config_error: str | None = Field(None, max_length=2000)
    storage_problem: StorageReport | None = None
    fallback: FallbackReport | None = None
    signalling_switches: list[SignallingSwitch] = Field(default_factory=list, max_length=50)


class CommandResultMsg(_Msg):
    type: Literal["command_result"]
    command_id: str = Field(min_length=1, max_length=64)
    ok: bool
    message: str | None = Field(None, max_length=2000)


def config_message(
    version: int,
    config: dict[str, Any],
    fallback: FallbackGrant | None = None,
    room_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``room_names``: the names of the rooms its buttons name (an extension: a device that
    does not know it shows room ids)."""
    message: dict[str, Any] = {"type": "config", "config_version": version, "config": config}
    if fallback is not None:
        message["fallback"] = fallback.model_dump(mode="json")
    if room_names:
        message["room_names"] = room_names
    return message


def command_message(command_id: str, action: str) -> dict[str, Any]:
    return {"type": "command", "command_id": command_id, "action": action}


class _Socket(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...


async def send_json(ws: _Socket | None, message: dict[str, Any]) -> bool:
    """Send on an aiohttp WebSocket (either end); False if it is gone."""
    if ws is None or ws.closed:
        return False
    try:
        await ws.send_str(json.dumps(message))
    except (ConnectionError, RuntimeError):
        return False
    return True
