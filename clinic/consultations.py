"""Keeps the waiting list true to who is in which patient space.

The hub reports joins and leaves synchronously; this turns them into storage writes on
one worker task, in order, so the hub never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from clinic.storage import Storage
from kiosk.signalling.messages import PeerInfo, Role
from kiosk.signalling.tokens import JoinClaims

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Change:
    patient_id: str
    status: str


class Consultations:
    """A patient is `waiting` until staff joins their space (`in_consultation`), and back
    to `waiting` if all staff leave; the consultation `ended` when the patient leaves."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._queue: asyncio.Queue[_Change | None] = asyncio.Queue()
        self._staff: dict[str, set[str]] = defaultdict(set)  # room -> staff peer ids
        self._staff_elsewhere: dict[str, set[str]] = defaultdict(set)  # on other processes
        self._patients: dict[str, str] = {}  # room -> patient id, while the patient is in
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="consultations")

    async def stop(self) -> None:
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker
            self._worker = None

    def peer_joined(self, room_id: str, peer_id: str, claims: JoinClaims) -> None:
        if claims.role is Role.PATIENT:
            self._patients[room_id] = claims.subject
        else:
            self._staff[room_id].add(peer_id)
        self._update(room_id)

    def peer_left(self, room_id: str, peer_id: str, claims: JoinClaims) -> None:
        if claims.role is Role.PATIENT:
            patient = self._patients.pop(room_id, None)
            if patient is not None:
                self._queue.put_nowait(_Change(patient, "ended"))
            self._staff_elsewhere.pop(room_id, None)  # this process hears no more of them
            return
        staff = self._staff.get(room_id)
        if staff is not None:
            staff.discard(peer_id)
            if not staff:
                del self._staff[room_id]
        self._update(room_id)

    def peer_joined_elsewhere(self, room_id: str, peer: PeerInfo) -> None:
        """Staff joined through another process (a patient is held by one process)."""
        if peer.role is not Role.PATIENT and room_id in self._patients:
            self._staff_elsewhere[room_id].add(peer.peer_id)
            self._update(room_id)

    def peer_left_elsewhere(self, room_id: str, peer_id: str) -> None:
        staff = self._staff_elsewhere.get(room_id)
        if staff is not None and peer_id in staff:
            staff.discard(peer_id)
            if not staff:
                del self._staff_elsewhere[room_id]
            self._update(room_id)

    def _update(self, room_id: str) -> None:
        patient = self._patients.get(room_id)
        if patient is not None:
            staff = self._staff.get(room_id) or self._staff_elsewhere.get(room_id)
            status = "in_consultation" if staff else "waiting"
            self._queue.put_nowait(_Change(patient, status))

    async def _run(self) -> None:
        while (change := await self._queue.get()) is not None:
            try:
                await self._storage.set_patient_status(change.patient_id, change.status)
            except Exception:
                # a failed write must not stop the tracking of every later consultation
                log.exception("could not mark patient %s %s", change.patient_id, change.status)
