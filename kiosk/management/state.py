"""What the device keeps in its state directory: its credential and the last good config.

How each file reaches the disk, and what happens when it cannot, is :mod:`persist`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, StrictStr

from kiosk.management.files import json_bytes
from kiosk.management.persist import StateFiles, StorageProblem
from kiosk.signalling import tokens
from kiosk.signalling.channel import FallbackGrant
from kiosk.signalling.device_config import DeviceConfig

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


class _CredentialFile(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    device_id: StrictStr = Field(min_length=1)
    clinic_id: StrictStr = Field(min_length=1)
    clinic_url: StrictStr = Field(pattern=r"^https?://[^\s/]+")
    device_token: StrictStr = Field(min_length=1)


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: StrictInt = Field(ge=0)
    config: DeviceConfig


def _json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _credential(data: bytes) -> Credential:
    parsed = _CredentialFile.model_validate(_json(data))
    return Credential(
        parsed.device_id, parsed.clinic_id, parsed.clinic_url, SecretStr(parsed.device_token)
    )


def _config(data: bytes) -> CachedConfig:
    parsed = _ConfigFile.model_validate(_json(data))
    return CachedConfig(parsed.version, parsed.config)


def _fallback(data: bytes) -> FallbackGrant:
    grant = FallbackGrant.model_validate(_json(data))
    tokens.load_public_key(grant.clinic_public_key)  # a grant whose key is garbage is corrupt
    return grant


def _device_key(data: bytes) -> Ed25519PrivateKey:
    try:
        return tokens.load_private_key(data)
    except Exception as exc:  # cryptography raises ValueError, TypeError or its own
        raise ValueError(f"not an Ed25519 private key in PEM ({type(exc).__name__})") from exc


class DeviceState:
    """The state files; reads survive corruption, writes survive a full or read-only card."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.files = StateFiles(state_dir)

    @property
    def problem(self) -> StorageProblem | None:
        return self.files.problem

    def credential(self) -> Credential | None:
        return self.files.load(
            self.dir / CREDENTIAL,
            _credential,
            "the device credential",
            then="the box is not enrolled: enroll it again with a new code",
        )

    def save_credential(self, credential: Credential) -> bool:
        return self.files.write(self.dir / CREDENTIAL, json_bytes(credential.to_json()))

    def config(self) -> CachedConfig | None:
        return self.files.load(
            self.dir / CONFIG,
            _config,
            "the cached device config",
            then="the clinic sends it again when it answers",
        )

    def save_config(self, version: int, config: dict[str, Any]) -> bool:
        return self.files.write(
            self.dir / CONFIG, json_bytes({"version": version, "config": config})
        )

    def device_key(self) -> Ed25519PrivateKey:
        """The box's key pair, made on first use (and again if the file is corrupt)."""
        path = self.dir / DEVICE_KEY
        key = self.files.load(path, _device_key, "the device key")
        if key is None:
            key = tokens.new_signing_key()
            self.files.write(path, tokens.private_key_pem(key))
        return key

    def fallback(self) -> FallbackGrant | None:
        return self.files.load(self.dir / FALLBACK, _fallback, "the LAN fallback grant")

    def save_fallback(self, grant: FallbackGrant | None) -> bool:
        if grant is None:
            return self.files.delete(self.dir / FALLBACK)
        return self.files.write(self.dir / FALLBACK, json_bytes(grant.model_dump(mode="json")))

    def remove_leftovers(self) -> None:
        """Temp files of writes that a power loss interrupted."""
        self.files.remove_leftovers(FILES)

    def forget(self) -> None:
        """Revoked: the credential, the config, the key and the fallback grant go."""
        for name in FILES:
            self.files.delete(self.dir / name)
