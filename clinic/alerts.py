"""Alerts to a clinic's webhook: a device went offline, or a peripheral went missing/bad.

A closed channel is "offline" only once the device has not come back within one heartbeat
interval: a clinic restart or a network blip, after which the fleet reconnects in seconds,
alerts nobody.

The device channel reports what it sees; one worker task posts the alerts in order, so a
slow or broken receiver never holds up the channel. Where several processes serve the
clinic, a device that looks offline here is asked about on the bus first (it may have
moved to another process, or another may have alerted already), and the devices of a
process that died are watched by the one that noticed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from clinic.bus.devices import DeviceBus, Orphan
from clinic.storage import Storage
from clinic.webhooks import Network, WebhookClient, WebhookTargetError

log = logging.getLogger(__name__)

SWEEP_S = 0.5


@dataclass
class _Watched:
    clinic_id: str
    name: str
    interval_s: float
    last_seen: float
    connected: bool
    closed_at: float = 0.0  # when the channel closed, if not connected
    online: bool = True
    peripherals: dict[str, str] | None = None


class Alerts:
    def __init__(
        self,
        storage: Storage,
        webhook_networks: tuple[Network, ...] = (),
        shared: DeviceBus | None = None,
    ) -> None:
        self._storage = storage
        self._shared = shared
        self.webhook_networks = webhook_networks  # private networks a webhook may reach
        self._devices: dict[str, _Watched] = {}
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    # ---- what the device channel reports ----------------------------------------------

    def connected(
        self,
        device_id: str,
        clinic_id: str,
        name: str,
        interval_s: float,
        peripherals: dict[str, str] | None = None,
    ) -> None:
        """``peripherals``: as last known (alerted about already, by whichever process)."""
        watched = self._devices.get(device_id)
        if watched is None:
            watched = self._devices[device_id] = _Watched(
                clinic_id, name, interval_s, time.time(), connected=True, peripherals=peripherals
            )
        watched.connected, watched.online = True, True
        watched.last_seen, watched.interval_s = time.time(), interval_s

    def interval(self, device_id: str, interval_s: float) -> None:
        watched = self._devices.get(device_id)
        if watched is not None:
            watched.interval_s = interval_s

    def heartbeat(self, device_id: str, peripherals: dict[str, str]) -> None:
        watched = self._devices.get(device_id)
        if watched is None:
            return
        watched.last_seen, watched.online = time.time(), True
        before = watched.peripherals or {}
        for part, state in sorted(peripherals.items()):
            if state in ("missing", "error") and before.get(part) != state:
                self._alert(device_id, watched, "peripheral_problem", f"{part} {state}")
        watched.peripherals = dict(peripherals)

    def disconnected(self, device_id: str) -> None:
        watched = self._devices.get(device_id)
        if watched is not None:
            watched.connected, watched.closed_at = False, time.time()

    def forget(self, device_id: str, here_only: bool = False) -> None:
        """Revoked: no more alerts about it (``here_only``: this process is going, and
        whoever takes over from it watches it)."""
        self._devices.pop(device_id, None)
        if self._shared is not None and not here_only:
            self._shared.unwatch(device_id)

    def adopt(self, orphans: list[Orphan]) -> None:
        """Their process died: their channels closed now, as far as anyone knows."""
        now = time.time()
        for o in orphans:
            watched = self._devices.setdefault(
                o.device_id, _Watched(o.clinic_id, o.name, o.interval_s, now, connected=False)
            )
            watched.connected, watched.closed_at = False, now

    # ---- the work ---------------------------------------------------------------------

    def _offline(self, device_id: str, watched: _Watched, why: str) -> None:
        if watched.online:
            watched.online = False
            self._alert(device_id, watched, "device_offline", why)

    def _alert(self, device_id: str, watched: _Watched, event: str, detail: str) -> None:
        self._queue.put_nowait(
            {
                "event": event,
                "clinic_id": watched.clinic_id,
                "device_id": device_id,
                "device_name": watched.name,
                "detail": detail,
                "at": time.time(),
            }
        )

    async def run(self) -> None:
        """Sweep for silent devices and deliver alerts, until cancelled."""
        async with WebhookClient(self.webhook_networks) as client, asyncio.TaskGroup() as tasks:
            tasks.create_task(self._sweep())
            while (alert := await self._queue.get()) is not None:
                await self._deliver(client, alert)

    async def _sweep(self) -> None:
        while True:
            now = time.time()
            due: dict[str, str] = {}  # device id -> why it looks offline
            for device_id, watched in self._devices.items():
                if not watched.online:
                    continue
                silent = now - watched.last_seen > 2 * watched.interval_s
                if not watched.connected:
                    if silent or now - watched.closed_at > watched.interval_s:
                        due[device_id] = "channel closed"
                elif silent:
                    due[device_id] = "no heartbeat for two intervals"
            if due:
                await self._judge(due)
            await asyncio.sleep(SWEEP_S)

    async def _judge(self, due: dict[str, str]) -> None:
        alert, moved = set(due), set[str]()
        if self._shared is not None:
            try:
                alert, moved = await self._shared.judge(sorted(due))
            except Exception:
                log.exception("cannot ask the bus about %d offline devices", len(due))
                return  # asked again at the next sweep
        for device_id, why in due.items():
            watched = self._devices.get(device_id)
            if watched is None:
                continue
            if device_id in moved:
                if not watched.connected:
                    self.forget(device_id)  # its new process watches it
            elif device_id in alert:
                self._offline(device_id, watched, why)
            else:
                watched.online = False  # another process alerted

    async def _deliver(self, client: WebhookClient, alert: dict[str, Any]) -> None:
        url = await self._storage.alert_webhook(alert["clinic_id"])
        if not url:
            return
        try:
            status = await client.post(url, alert)
            if status >= 300:  # redirects are not followed
                log.warning("alert webhook %s answered %d", url, status)
        except WebhookTargetError as exc:
            log.warning("alert webhook %s refused: %s", url, exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alert webhook %s failed: %s", url, exc or type(exc).__name__)
