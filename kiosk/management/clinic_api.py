"""The clinic's HTTP API as the device uses it: join tokens and the waiting area."""

from __future__ import annotations

from typing import Any

import aiohttp

from kiosk.errors import KioskError
from kiosk.management.state import Credential

# a clinic gone silent (no refusal) is given up on quickly: the LAN fallback is waiting
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2)


class ClinicApiError(KioskError, ConnectionError):
    """The clinic refused, or could not be reached."""


class ClinicUnreachableError(ClinicApiError):
    """No answer from the clinic at all (as opposed to a refusal)."""


class NobodyWaitingError(ClinicApiError):
    """No patient in the waiting area to answer."""


class ClinicApi:
    """Over a session the daemon keeps: a press reuses the clinic's kept-alive connection
    instead of paying for a TCP and TLS handshake first."""

    def __init__(self, credential: Credential, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._base = credential.clinic_url.rstrip("/") + "/api/v1"
        self._clinic_id = credential.clinic_id
        self._headers = {"Authorization": f"Bearer {credential.device_token.get_secret_value()}"}

    async def _call(self, method: str, path: str) -> Any:
        try:
            async with self._session.request(
                method, self._base + path, headers=self._headers, timeout=TIMEOUT
            ) as response:
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ClinicUnreachableError(
                f"clinic unreachable: {exc or type(exc).__name__}"
            ) from exc
        if response.status >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise ClinicApiError(
                f"{error.get('code', response.status)}: {error.get('message', 'refused')}"
            )
        return data

    async def join_token(self, room_id: str) -> dict[str, Any]:
        grant: dict[str, Any] = await self._call("POST", f"/rooms/{room_id}/join-token")
        return grant

    async def next_patient_token(self) -> dict[str, Any] | None:
        """A join token into the space of the longest-waiting patient whose page is there
        (not in a consultation, not a page still connecting or gone for a moment: the box
        never joins an empty space); None if nobody is."""
        listed = await self._call("GET", f"/clinics/{self._clinic_id}/waiting-area")
        # a v1 clinic lists only patients waiting, without these fields
        waiting = [p for p in listed if p.get("state", "waiting") == "waiting"
                   and p.get("connected", True)]  # fmt: skip
        if not waiting:
            return None
        first = min(waiting, key=lambda p: p["waiting_since"])
        grant: dict[str, Any] = await self._call(
            "POST", f"/waiting-area/{first['patient_id']}/join-token"
        )
        return grant
