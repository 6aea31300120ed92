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


def new_code() -> tuple[str, float]:
    """A code and when it stops working."""
    return f"{secrets.randbelow(10**16):016d}", time.time() + CODE_TTL_S


async def renew_code(storage: Storage, device_id: str) -> NewDevice | None:
    """A fresh code for a device never enrolled; None if it is enrolled (or revoked)."""
    code, expires = new_code()
    if not await storage.new_enrollment_code(device_id, secret_hash(code), expires):
        return None
    return NewDevice(device_id, code, expires)


async def create_device(
    storage: Storage, clinic_id: str, name: str, buttons: dict[str, Any] | None = None
) -> NewDevice:
    """A device awaiting enrollment, its config valid from the start."""
    code, expires = new_code()
    config = DeviceConfig.model_validate({"name": name, "buttons": buttons or {}})
    device_id = await storage.create_device(
        clinic_id, name, secret_hash(code), expires, config.model_dump(mode="json")
    )
    return NewDevice(device_id, code, expires)
