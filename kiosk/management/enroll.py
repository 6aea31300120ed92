"""Enrollment: a one-time code from the clinic admin becomes this box's credential."""

from __future__ import annotations

import asyncio
import logging
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from kiosk.errors import KioskError
from kiosk.management import hardware
from kiosk.management.backoff import Backoff
from kiosk.management.state import Credential, DeviceState
from kiosk.version import SOFTWARE_VERSION

log = logging.getLogger(__name__)


class EnrollmentError(KioskError, PermissionError):
    """The clinic refused the code, or could not be asked."""


class ClinicNotAnsweringError(EnrollmentError):
    """No answer, or the clinic's own failure (5xx): worth asking again later."""


async def enroll(clinic_url: str, code: str, state: DeviceState) -> Credential:
    """Enroll with ``code``; saves the credential and the first config."""
    body = {
        "enrollment_code": code,
        "hardware": {
            "model": hardware.model(),
            "serial": hardware.serial(),
            "software_version": SOFTWARE_VERSION,
        },
    }
    url = clinic_url.rstrip("/") + "/api/v1/enroll"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
            session.post(url, json=body) as response,
        ):
            data: dict[str, Any] = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ClinicNotAnsweringError(f"cannot reach the clinic at {clinic_url}: {reason}") from exc
    if response.status >= 500:
        raise ClinicNotAnsweringError(f"the clinic at {clinic_url} failed ({response.status})")
    if response.status != 200:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise EnrollmentError(
            f"the clinic refused the enrollment ({error.get('code', response.status)}): "
            f"{error.get('message', 'no reason given')}"
        )
    credential = Credential(
        device_id=data["device_id"],
        clinic_id=data["clinic_id"],
        clinic_url=clinic_url.rstrip("/"),
        device_token=SecretStr(data["device_token"]),
    )
    # fsync on an SD card can take a while: never on the event loop
    await asyncio.to_thread(state.save_credential, credential)
    await asyncio.to_thread(state.save_config, int(data.get("config_version", 1)), data["config"])
    log.info("enrolled as device %s of clinic %s", credential.device_id, credential.clinic_id)
    return credential


async def enroll_from_file(path: Path, state: DeviceState, backoff: Backoff) -> Credential | None:
    """First boot: the installer dropped ``code`` and ``clinic_url`` in a TOML file.

    The file is deleted after success. While the clinic does not answer (the network of a
    box that just booted may not be up yet) it is asked again with ``backoff``; a refusal or
    a bad file is final. The reason of a failure is written beside the file
    (``<file>.error``) for whoever looks.
    """
    error_note = path.with_name(path.name + ".error")
    try:
        found = await asyncio.to_thread(_read_enrollment_file, path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        reason = f'{path} must hold code = "..." and clinic_url = "...": {exc}'
        log.error("first-boot enrollment: %s", reason)
        await _note(state, error_note, reason)
        return None
    if found is None:
        return None
    code, url = found
    while True:
        try:
            credential = await enroll(url, code, state)
        except ClinicNotAnsweringError as exc:
            delay = backoff.next_delay()
            log.warning("first-boot enrollment: %s; asking again in %.0f s", exc, delay)
            await _note(state, error_note, f"{exc} (still trying)")
            await asyncio.sleep(delay)
            enrolled = await asyncio.to_thread(state.credential)
            if enrolled is not None:  # by hand (`kiosk enroll`) meanwhile
                return enrolled
        except EnrollmentError as exc:
            log.error("first-boot enrollment failed: %s", exc)
            await _note(state, error_note, str(exc))
            return None
        else:
            backoff.reset()
            await asyncio.to_thread(_remove, state, path, error_note)
            return credential


async def _note(state: DeviceState, path: Path, reason: str) -> None:
    await asyncio.to_thread(state.files.write, path, (reason + "\n").encode(), 0o644)


def _read_enrollment_file(path: Path) -> tuple[str, str] | None:
    if not path.is_file():
        return None
    data = tomllib.loads(path.read_text())
    return str(data["code"]), str(data["clinic_url"])


def _remove(state: DeviceState, *paths: Path) -> None:
    for path in paths:
        state.files.delete(path)
