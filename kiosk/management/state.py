"""What the device keeps in its state directory: its credential and the last good config."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr, ValidationError

from kiosk.management.files import read_json, write_atomically, write_json
from kiosk.signalling import tokens
from kiosk.signalling.channel import FallbackGrant
from kiosk.signalling.device_config import DeviceConfig
from kiosk.signalling.tokens import TokenError

log = logging.getLogger(__name__)

CREDENTIAL = "credential.json"
CONFIG = "device-config.json"
DEVICE_KEY = "device-key.pem"  # the box's own Ed25519 key: signs its LAN fallback joins
FALLBACK = "fallback.json"  # the clinic's last fallback grant: hosts, credential, clinic key
FILES = (CREDENTIAL, CONFIG, DEVICE_KEY, FALLBACK)


@dataclass(frozen=True)
class Credential:
    device_id: str
    clinic_id: str
    clinic_url: str
    device_token: SecretStr

    def to_json(self) -> dict[str, str]:
        return {
            "device_id": self.device_id,
            "clinic_id": self.clinic_id,
            "clinic_url": self.clinic_url,
            "device_token": self.device_token.get_secret_value(),
        }


@dataclass(frozen=True)
class CachedConfig:
    version: int
    config: DeviceConfig


class DeviceState:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir

    def credential(self) -> Credential | None:
        data = read_json(self.dir / CREDENTIAL)
        if not isinstance(data, dict):
            return None
        try:
            return Credential(
                device_id=str(data["device_id"]),
                clinic_id=str(data["clinic_id"]),
                clinic_url=str(data["clinic_url"]),
                device_token=SecretStr(str(data["device_token"])),
            )
        except KeyError:
            log.error("%s is incomplete; the device is not enrolled", self.dir / CREDENTIAL)
            return None

    def save_credential(self, credential: Credential) -> None:
        write_json(self.dir / CREDENTIAL, credential.to_json(), mode=0o600)

    def config(self) -> CachedConfig | None:
        data = read_json(self.dir / CONFIG)
        if not isinstance(data, dict):
            return None
        try:
            return CachedConfig(int(data["version"]), DeviceConfig.model_validate(data["config"]))
        except (KeyError, ValueError, ValidationError):
            log.error("ignoring the unreadable cached config %s", self.dir / CONFIG)
            return None

    def save_config(self, version: int, config: dict[str, Any]) -> None:
        write_json(self.dir / CONFIG, {"version": version, "config": config}, mode=0o600)

    def device_key(self) -> Ed25519PrivateKey:
        """The box's key pair, made on first use."""
        path = self.dir / DEVICE_KEY
        with contextlib.suppress(FileNotFoundError):
            try:
                return tokens.load_private_key(path.read_bytes())
            except (ValueError, TokenError):
                log.error("%s is unreadable; making a new device key", path)
        key = tokens.new_signing_key()
        write_atomically(path, tokens.private_key_pem(key), mode=0o600)
        return key

    def fallback(self) -> FallbackGrant | None:
        data = read_json(self.dir / FALLBACK)
        if data is None:
            return None
        try:
            return FallbackGrant.model_validate(data)
        except ValidationError:
            log.error("ignoring the unreadable fallback grant %s", self.dir / FALLBACK)
            return None

    def save_fallback(self, grant: FallbackGrant | None) -> None:
        if grant is None:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / FALLBACK).unlink()
            return
        write_json(self.dir / FALLBACK, grant.model_dump(mode="json"), mode=0o600)

    def remove_leftovers(self) -> None:
        """Temp files of writes that a power loss interrupted."""
        for name in FILES:
            for leftover in self.dir.glob(f".{name}.*"):
                leftover.unlink(missing_ok=True)

    def forget(self) -> None:
        """Revoked: the credential, the config, the key and the fallback grant go."""
        for name in FILES:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()
