"""The room hub: who is in which room, and relaying between them. Pure asyncio, no HTTP.

One implementation, run by the clinic service and by a kiosk's LAN fallback server; the
transport (an aiohttp WebSocket, in :mod:`kiosk.signalling.server`) is handed in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.signalling import messages as m
from kiosk.signalling import resume
from kiosk.signalling.messages import BadMessageError, ErrorCode, PeerInfo
from kiosk.signalling.resume import ResumeSecret
from kiosk.signalling.tokens import JoinClaims, TokenError

log = logging.getLogger(__name__)

# What may wait for one client that does not read, and for all of a server's clients
# together, in bytes (PROTOCOL.md section 6): past either, the client is dropped (4429)
OUTBOX_BYTES = 1024 * 1024
HUB_OUTBOX_BYTES = 64 * 1024 * 1024
CLOSE_UNAUTHORIZED = 4401
CLOSE_JOIN_TIMEOUT = 4408
CLOSE_SILENT = 4410
CLOSE_TOO_SLOW = 4429


class Transport(Protocol):
    """One client connection, as the hub sees it."""

    def frames(self) -> AsyncIterator[str | bytes | None]:
        """Incoming text (or binary) frames until the client goes away; None when the
        client was heard without a frame for the hub (a WebSocket pong)."""

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class ForbiddenError(Exception):
    """A valid token that may not enter its room (e.g. a revoked device)."""


Authenticate = Callable[[str], Awaitable[JoinClaims]]
IceServers = Callable[[JoinClaims], Awaitable[list[dict[str, Any]]]]


class HubListener(Protocol):
    def peer_joined(self, room_id: str, peer_id: str, claims: JoinClaims) -> None: ...

    def peer_left(self, room_id: str, peer_id: str, claims: JoinClaims) -> None: ...


async def no_ice_servers(claims: JoinClaims) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class _Session:
    transport: Transport
    peer_id: str = ""
    claims: JoinClaims | None = None
    name: str = ""
    # one writer task per connection drains this, so no client waits on another;
    # ends with a _Close (close the socket) or None (the client went away)
    # serialised messages (JSON is ASCII here: characters are bytes)
    outbox: asyncio.Queue[str | _Close | None] = field(default_factory=asyncio.Queue)
    queued_bytes: int = 0
    closing: bool = False
    heard_at: float = field(default_factory=time.monotonic)

    @property
    def room_id(self) -> str | None:
        return self.claims.room_id if self.claims else None

    def info(self) -> PeerInfo:
        assert self.claims is not None
        return PeerInfo(peer_id=self.peer_id, name=self.name, role=self.claims.role)


class Hub:
    def __init__(
        self,
        authenticate: Authenticate,
        ice_servers: IceServers = no_ice_servers,
        listener: HubListener | None = None,
        max_participants: int = m.MAX_PARTICIPANTS,
        join_timeout_s: float = m.JOIN_TIMEOUT_S,
        resume_secret: ResumeSecret | None = None,
        silence_timeout_s: float = m.SILENCE_TIMEOUT_S,
    ) -> None:
        self._authenticate = authenticate
        self._ice_servers = ice_servers
        self._listener = listener
        self._max = max_participants
        self._join_timeout = join_timeout_s
        self._resume_secret = resume_secret or resume.ephemeral()
        self._silence_timeout = silence_timeout_s
        self._rooms: dict[str, dict[str, _Session]] = {}
        self._sessions: set[_Session] = set()
        self._queued_bytes = 0  # over every session's outbox

    @property
    def queued_bytes(self) -> int:
        """What waits, over all clients, to be written to their sockets."""
        return self._queued_bytes

    def rooms(self) -> dict[str, int]:
        return {room: len(peers) for room, peers in self._rooms.items()}

    async def close_all(self, code: int, reason: str) -> None:
        """Close every connection (server shut-down).

        Nobody is told that the others left: they did not. Media is peer to peer, and a
        call must outlive a restart of its signalling server.
        """
        for session in list(self._sessions):
            if session.claims is not None:
                self._rooms.get(session.claims.room_id, {}).pop(session.peer_id, None)
            self._close(session, code, reason)
        self._rooms.clear()

    async def kick(self, predicate: Callable[[JoinClaims], bool], code: int, reason: str) -> int:
        """Close every connection whose claims match (a revoked device); returns how many."""
        matching = [s for s in self._sessions if s.claims is not None and predicate(s.claims)]
        for session in matching:
            self._leave(session)
            self._close(session, code, reason)
        return len(matching)

    async def serve(self, transport: Transport) -> None:
        """Run the protocol for one connection until it closes."""
        session = _Session(transport)
        self._sessions.add(session)
        writer = asyncio.create_task(self._write(session), name="signal-writer")
        silence = asyncio.create_task(self._watch_silence(session), name="signal-silence")
        deadline = asyncio.get_running_loop().call_later(
            self._join_timeout, self._join_deadline, session
        )
        try:
            async for frame in transport.frames():
                session.heard_at = time.monotonic()
                if frame is not None:
                    await self._receive(session, frame)
                if session.closing:
                    break
        finally:
            deadline.cancel()
            silence.cancel()
            self._leave(session)
            self._sessions.discard(session)
            session.outbox.put_nowait(None)
            # the writer drains what is queued (the error that explains a close), then ends
            try:
                await asyncio.wait_for(writer, 5)
            except TimeoutError:
                log.warning("signalling writer did not drain in 5 s")

    async def _watch_silence(self, session: _Session) -> None:
        """A client that froze (a stopped process, a dead link) sends no close: after
        10 s without a word it is gone, and its room hears so at once."""
        while not session.closing:
            left = session.heard_at + self._silence_timeout - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            log.info("peer %s silent for %g s; closing", session.peer_id, self._silence_timeout)
            self._leave(session)
            self._close(session, CLOSE_SILENT, "silent")

    # ---- receiving ------------------------------------------------------------------

    async def _receive(self, session: _Session, frame: str | bytes) -> None:
        try:
            message = m.parse_client_message(frame)
        except BadMessageError as exc:
            self._error(session, exc.code, str(exc))
            return
        match message:
            case m.Ping():
                self._send(session, m.PONG)
            case m.Join():
                await self._join(session, message)
            case m.Leave():
                if session.claims is None:
                    self._error(session, ErrorCode.NOT_JOINED, "leave before join")
                else:
                    self._leave(session)
            case m.Offer() | m.Answer() | m.Candidate():
                self._relay(session, message)

    async def _join(self, session: _Session, message: m.Join) -> None:
        if session.claims is not None:
            self._error(session, ErrorCode.BAD_MESSAGE, "already joined; send leave first")
            return
        try:
            claims = await self._authenticate(message.token)
        except TokenError as exc:
            self._error(session, ErrorCode.UNAUTHORIZED, str(exc))
            self._close(session, CLOSE_UNAUTHORIZED, "unauthorized")
            return
        except ForbiddenError as exc:
            self._error(session, ErrorCode.FORBIDDEN, str(exc))
            return
        room = self._rooms.setdefault(claims.room_id, {})
        if len(room) >= self._max:
            self._error(session, ErrorCode.ROOM_FULL, f"the room holds at most {self._max}")
            return
        ice = await self._ice_servers(claims)
        secret = await self._resume_secret(claims)
        room = self._rooms.setdefault(claims.room_id, {})  # may have emptied meanwhile
        if len(room) >= self._max:
            self._error(session, ErrorCode.ROOM_FULL, f"the room holds at most {self._max}")
            return
        session.claims = claims
        session.name = (message.name or claims.name)[:100]
        session.peer_id = self._peer_id(message.resume, room, claims, secret)
        resumed = message.resume is not None and session.peer_id == message.resume.peer_id
        others = list(room.values())
        room[session.peer_id] = session
        key = resume.resume_key(secret, claims.room_id, session.peer_id, claims.subject)
        self._send(
            session,
            m.joined(claims.room_id, session.peer_id, [o.info() for o in others], ice, key),
        )
        for other in others:
            self._send(other, m.peer_joined(session.info()))
        log.info(
            "%s %s %s %s as %s",
            claims.role,
            claims.subject,
            "resumed in" if resumed else "joined",
            claims.room_id,
            session.peer_id,
        )
        if self._listener is not None:
            self._listener.peer_joined(claims.room_id, session.peer_id, claims)

    @staticmethod
    def _peer_id(
        wanted: m.Resume | None, room: dict[str, _Session], claims: JoinClaims, secret: bytes
    ) -> str:
        """The old peer id when the resume key proves it is this client's, else a new one."""
        if (
            wanted is not None
            and wanted.peer_id not in room
            and resume.is_valid(
                secret, wanted.resume_key, claims.room_id, wanted.peer_id, claims.subject
            )
        ):
            return wanted.peer_id
        return secrets.token_urlsafe(8)

    def _relay(self, session: _Session, message: m.Relayed) -> None:
        if session.claims is None:
            self._error(session, ErrorCode.NOT_JOINED, f"{message.type} before join")
            return
        target = self._rooms.get(session.claims.room_id, {}).get(message.to)
        if target is None or target is session:
            self._error(session, ErrorCode.UNKNOWN_PEER, f"no peer {message.to!r} in this room")
            return
        self._send(target, {**message.model_dump(), "from": session.peer_id})

    def _leave(self, session: _Session) -> None:
        claims = session.claims
        if claims is None:
            return
        room = self._rooms.get(claims.room_id, {})
        room.pop(session.peer_id, None)
        if not room:
            self._rooms.pop(claims.room_id, None)
        for other in room.values():
            self._send(other, m.peer_left(session.peer_id))
        session.claims = None
        if self._listener is not None:
            self._listener.peer_left(claims.room_id, session.peer_id, claims)

    def _join_deadline(self, session: _Session) -> None:
        if session.claims is None and session.peer_id == "":
            self._error(session, ErrorCode.NOT_JOINED, f"no join within {self._join_timeout:g} s")
            self._close(session, CLOSE_JOIN_TIMEOUT, "no join")

    # ---- sending --------------------------------------------------------------------

    def _error(self, session: _Session, code: ErrorCode, message: str) -> None:
        self._send(session, m.error(code, message))

    def _send(self, session: _Session, message: dict[str, Any]) -> None:
        if session.closing:
            return
        text = json.dumps(message)  # ensure_ascii: len() is the byte count
        over_own = session.queued_bytes + len(text) > OUTBOX_BYTES
        if over_own or self._queued_bytes + len(text) > HUB_OUTBOX_BYTES:
            # a client that does not read must not hold memory or stall its room
            log.warning(
                "dropping peer %s: %d bytes unread (%s)",
                session.peer_id,
                session.queued_bytes,
                "its own budget" if over_own else "the server's budget",
            )
            self._leave(session)
            self._discard_outbox(session)
            self._close(session, CLOSE_TOO_SLOW, "too slow")
            return
        session.queued_bytes += len(text)
        self._queued_bytes += len(text)
        session.outbox.put_nowait(text)

    def _discard_outbox(self, session: _Session) -> None:
        while not session.outbox.empty():
            item = session.outbox.get_nowait()
            if isinstance(item, str):
                self._sent(session, item)

    def _sent(self, session: _Session, text: str) -> None:
        session.queued_bytes -= len(text)
        self._queued_bytes -= len(text)

    def _close(self, session: _Session, code: int, reason: str) -> None:
        """Close after what is already queued has been sent."""
        if not session.closing:
            session.closing = True
            session.outbox.put_nowait(_Close(code, reason))

    async def _write(self, session: _Session) -> None:
        try:
            while (item := await session.outbox.get()) is not None:
                try:
                    if isinstance(item, _Close):
                        await session.transport.close(item.code, item.reason)
                        return
                    await session.transport.send(item)
                except (ConnectionError, RuntimeError):
                    return  # the client went away; the reader notices and cleans up
                finally:
                    if isinstance(item, str):
                        self._sent(session, item)
        finally:
            self._discard_outbox(session)  # nothing of a gone client stays counted
