"""A clinic's device list, a page at a time: `GET .../devices?limit=&cursor=&state=`.

Without `limit` the answer is the whole list, as in v1. With it, at most `limit` devices
in the list's order (oldest first) and, when more may follow, a `Link: <...>; rel="next"`
header (RFC 8288) whose URL carries an opaque cursor. A `state` filter (online, offline,
problem) reads at most `SCAN_ROWS` rows per request: a page may then hold fewer devices
than asked, and the next link goes on from where it stopped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clinic.errors import InvalidError
from clinic.storage import DevicePosition, DeviceRecord, Storage

MAX_LIMIT = 500
SCAN_ROWS = 2000
BATCH_ROWS = 500


class StateFilter(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    PROBLEM = "problem"  # online, and something is wrong with it


@dataclass(frozen=True)
class PageRequest:
    limit: int | None
    after: DevicePosition | None
    state: StateFilter | None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> PageRequest:
        wrong: list[str] = []
        limit: int | None = None
        if "limit" in query:
            text = query["limit"]
            if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
                wrong.append(f"limit: a whole number from 1 to {MAX_LIMIT}")
            else:
                limit = int(text)
        after = None
        if "cursor" in query:
            try:
                after = decode_cursor(query["cursor"])
            except ValueError:
                wrong.append("cursor: not a cursor this service gave (start again without it)")
        state = None
        if "state" in query:
            try:
                state = StateFilter(query["state"])
            except ValueError:
                wrong.append(f"state: one of {', '.join(s.value for s in StateFilter)}")
        if wrong:
            raise InvalidError(wrong)
        return cls(limit, after, state)


def encode_cursor(position: DevicePosition) -> str:
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> DevicePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, device_id = json.loads(raw)
        if isinstance(created_at, int | float) and isinstance(device_id, str):
            return float(created_at), device_id
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        pass  # (JSONDecodeError and a wrong number of items are ValueErrors)
    raise ValueError("not a cursor")


def has_problem(status: dict[str, Any] | None) -> bool:
    """What an admin would want to look at on a connected device."""
    if not status:
        return False
    peripherals = status.get("peripherals") or {}
    return (
        status.get("state") == "error"
        or any(state in ("missing", "error") for state in peripherals.values())
        or bool(status.get("config_error"))
        or bool(status.get("storage_problem"))
    )


async def read_page(
    storage: Storage,
    clinic_id: str,
    request: PageRequest,
    look: Callable[[list[DeviceRecord]], Awaitable[None]],
    matches: Callable[[DeviceRecord], bool],
) -> tuple[list[DeviceRecord], DevicePosition | None]:
    """The devices of the page, and where the next one starts (None: the list's end).
    ``look`` is called with each batch of rows before ``matches`` judges them."""
    found: list[DeviceRecord] = []
    after, scanned = request.after, 0
    while True:
        rows = await storage.devices_page(clinic_id, after, BATCH_ROWS)
        await look(rows)
        for i, device in enumerate(rows):
            after, scanned = device.position, scanned + 1
            if matches(device):
                found.append(device)
                if len(found) == request.limit:
                    more = i < len(rows) - 1 or len(rows) == BATCH_ROWS
                    return found, after if more else None
        if len(rows) < BATCH_ROWS:
            return found, None
        if request.limit is not None and scanned >= SCAN_ROWS:
            return found, after
