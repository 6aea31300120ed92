"""Enrollment codes: 16 decimal digits (like a Webex activation code), single use, valid
7 days, stored only as a hash."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from clinic.auth import secret_hash
from clinic.storage import Storage
from kiosk.signalling.device_config import DeviceConfig

CODE_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class NewDevice:
    device_id: str
    enrollment_code: str
    expires_at: float


def normalise_code(code: str) -> str:
    """What was read aloud or typed with spaces, as the 16 digits."""
    return "".join(ch for ch in code if ch.isdigit())


async def create_device(
    storage: Storage, clinic_id: str, name: str, buttons: dict[str, Any] | None = None
) -> NewDevice:
    """A device awaiting enrollment, its config valid from the start."""
    code = f"{secrets.randbelow(10**16):016d}"
    expires = time.time() + CODE_TTL_S
    config = DeviceConfig.model_validate({"name": name, "buttons": buttons or {}})
    device_id = await storage.create_device(
        clinic_id, name, secret_hash(code), expires, config.model_dump(mode="json")
    )
    return NewDevice(device_id, code, expires)
