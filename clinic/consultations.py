"""Keeps the waiting list true to who is in which patient space (PROTOCOL.md section 6,
"Waiting area presence").

A patient is `waiting` until staff joins their space (`in_consultation`, with the staff's
names), and back to `waiting` (waiting from then on) when all staff leave. Whether their
page holds a session in their space is kept too: a page that goes (a reload, a dropped
network, a closed tab) leaves the patient listed for GRACE_S, in their place, so that a
reload finds it again; after that they are no longer waiting.

The hub reports joins and leaves synchronously; this turns them into storage writes on
one worker task, in order, so the hub never waits on the database. After each, the
clinic's waiting count is told (``changed``), and again when a grace runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clinic.storage import Storage
from kiosk.signalling.messages import PeerInfo, Role
from kiosk.signalling.tokens import JoinClaims

log = logging.getLogger(__name__)

GRACE_S = 60.0  # to connect after entering, or to come back after the page went


@dataclass(frozen=True, slots=True)
class _Change:
    patient_id: str
    clinic_id: str
    status: str | None = None  # waiting | in_consultation; None: as it is
    with_names: tuple[str, ...] = ()
    connected: bool | None = None  # None: as it is


@dataclass(frozen=True, slots=True)
class _Patient:
    id: str
    clinic_id: str


async def _nobody_to_tell(clinic_id: str) -> None:
    pass


class Consultations:
    def __init__(
        self,
        storage: Storage,
        changed: Callable[[str], Awaitable[None]] = _nobody_to_tell,
        grace_s: float = GRACE_S,
    ) -> None:
        self._storage = storage
        self._changed = changed  # a clinic's waiting list changed
        self.grace_s = grace_s
        self._queue: asyncio.Queue[_Change | None] = asyncio.Queue()
        self._staff: dict[str, dict[str, str]] = defaultdict(dict)  # room -> peer -> name
        self._staff_elsewhere: dict[str, dict[str, str]] = defaultdict(dict)  # other processes
        self._patients: dict[str, _Patient] = {}  # room -> its patient, while connected
        self._worker: asyncio.Task[None] | None = None
        self._graces: set[asyncio.TimerHandle] = set()

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="consultations")

    async def stop(self) -> None:
        for timer in self._graces:
            timer.cancel()
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker
            self._worker = None

    def entered(self, clinic_id: str) -> None:
        """A patient entered: listed now, and gone if their page never connects."""
        self._queue.put_nowait(_Change("", clinic_id))
        self._after_grace(clinic_id)

    def gone(self, clinic_id: str) -> None:
        """A patient left for good (already written)."""
        self._queue.put_nowait(_Change("", clinic_id))

    def peer_joined(self, room_id: str, peer_id: str, claims: JoinClaims) -> None:
        if claims.role is Role.PATIENT:
            patient = self._patients[room_id] = _Patient(claims.subject, claims.clinic_id)
            self._queue.put_nowait(_Change(patient.id, patient.clinic_id, connected=True))
        else:
            self._staff[room_id][peer_id] = claims.name
        self._update(room_id)

    def peer_left(self, room_id: str, peer_id: str, claims: JoinClaims) -> None:
        if claims.role is Role.PATIENT:
            patient = self._patients.pop(room_id, None)
            if patient is not None:
                self._queue.put_nowait(_Change(patient.id, patient.clinic_id, connected=False))
                self._after_grace(patient.clinic_id)
            self._staff_elsewhere.pop(room_id, None)  # this process hears no more of them
            return
        staff = self._staff.get(room_id)
        if staff is not None:
            staff.pop(peer_id, None)
            if not staff:
                del self._staff[room_id]
        self._update(room_id)

    def peer_joined_elsewhere(self, room_id: str, peer: PeerInfo) -> None:
        """Staff joined through another process (a patient is held by one process)."""
        if peer.role is not Role.PATIENT and room_id in self._patients:
            self._staff_elsewhere[room_id][peer.peer_id] = peer.name
            self._update(room_id)

    def peer_left_elsewhere(self, room_id: str, peer_id: str) -> None:
        staff = self._staff_elsewhere.get(room_id)
        if staff is not None and peer_id in staff:
            del staff[peer_id]
            if not staff:
                del self._staff_elsewhere[room_id]
            self._update(room_id)

    def _update(self, room_id: str) -> None:
        patient = self._patients.get(room_id)
        if patient is not None:
            here, elsewhere = self._staff.get(room_id, {}), self._staff_elsewhere.get(room_id, {})
            names = tuple(sorted({*here.values(), *elsewhere.values()}))
            status = "in_consultation" if here or elsewhere else "waiting"
            self._queue.put_nowait(_Change(patient.id, patient.clinic_id, status, names))

    def _after_grace(self, clinic_id: str) -> None:
        """When the grace runs out, the clinic's waiting count may have changed."""
        loop = asyncio.get_running_loop()

        def due() -> None:
            self._graces.discard(timer)
            self._queue.put_nowait(_Change("", clinic_id))

        timer = loop.call_later(self.grace_s + 0.5, due)
        self._graces.add(timer)

    async def _run(self) -> None:
        """Write the changes in order; then tell each clinic concerned, once per batch."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for change in batch:
                if change is not None:
                    await self._apply(change)
            for clinic_id in sorted({c.clinic_id for c in batch if c is not None}):
                try:
                    await self._changed(clinic_id)
                except Exception:
                    log.exception("could not tell clinic %s's devices who waits", clinic_id)
            if None in batch:
                return

    async def _apply(self, change: _Change) -> None:
        try:
            if change.connected is not None:
                await self._storage.set_patient_connected(change.patient_id, change.connected)
            if change.status is not None:
                await self._storage.set_patient_status(
                    change.patient_id, change.status, change.with_names
                )
        except Exception:
            # a failed write must not stop the tracking of every later consultation
            log.exception("could not record patient %s: %s", change.patient_id, change)
