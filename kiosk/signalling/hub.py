"""The room hub: who is in which room, and relaying between them. Pure asyncio, no HTTP.

One implementation, run by the clinic service and by a kiosk's LAN fallback server; the
transport (an aiohttp WebSocket, in :mod:`kiosk.signalling.server`) is handed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.signalling import messages as m
from kiosk.signalling import resume
from kiosk.signalling.federation import Federation, Refused
from kiosk.signalling.messages import BadMessageError, ErrorCode, PeerInfo
from kiosk.signalling.resume import ResumeSecret
from kiosk.signalling.tokens import ForbiddenError, JoinClaims, TokenError

log = logging.getLogger(__name__)

# What may wait for one client that does not read, and for all of a server's clients
# together, in bytes (PROTOCOL.md section 6): past either, the client is dropped (4429)
OUTBOX_BYTES = 1024 * 1024
HUB_OUTBOX_BYTES = 64 * 1024 * 1024
CLOSE_UNAUTHORIZED = 4401
CLOSE_JOIN_TIMEOUT = 4408
CLOSE_SILENT = 4410
CLOSE_TOO_SLOW = 4429  # also: too many sockets from one address, or on the server
# a closed client has this long to read what explains its close; then it is cut off
CLOSE_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """How many signalling sockets a server holds: in all, from one client address (a
    clinic behind NAT is one address), and not yet joined from one address (each of those
    is closed at the join deadline)."""

    sockets: int = 10_000
    per_address: int = 200
    unjoined_per_address: int = 20


# a box on the clinic LAN: a few dozen devices and clinicians' browsers, one address each
FALLBACK_SOCKET_LIMITS = SocketLimits(sockets=256, per_address=16, unjoined_per_address=4)


class Transport(Protocol):
    """One client connection, as the hub sees it."""

    @property
    def address(self) -> str:
        """The client's address, as the socket limits count it."""

    def frames(self) -> AsyncIterator[str | bytes | None]:
        """Incoming text (or binary) frames until the client goes away; None when the
        client was heard without a frame for the hub (a WebSocket pong)."""

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None:
        """Drop the connection at once: the close a client does not read never arrives."""


Authenticate = Callable[[str], Awaitable[JoinClaims]]
IceServers = Callable[[JoinClaims], Awaitable[list[dict[str, Any]]]]


class HubListener(Protocol):
    def peer_joined(self, room_id: str, peer_id: str, claims: JoinClaims) -> None: ...

    def peer_left(self, room_id: str, peer_id: str, claims: JoinClaims) -> None: ...

    # where rooms span servers: the members of a room this hub has members of, on others
    def peer_joined_elsewhere(self, room_id: str, peer: PeerInfo) -> None: ...

    def peer_left_elsewhere(self, room_id: str, peer_id: str) -> None: ...


async def no_ice_servers(claims: JoinClaims) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class _Session:
    transport: Transport
    address: str
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
        socket_limits: SocketLimits = SocketLimits(),
        federation: Federation | None = None,
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
        self._by_address: dict[str, set[_Session]] = {}
        self._limits = socket_limits
        self._live_tokens: dict[str, _Session] = {}  # join token id -> the session it serves
        self._queued_bytes = 0  # over every session's outbox
        # rooms that span servers: ``_rooms`` then holds this server's members only
        self._federation = federation
        if federation is not None:
            federation.attach(self.deliver)

    @property
    def queued_bytes(self) -> int:
        """What waits, over all clients, to be written to their sockets."""
        return self._queued_bytes

    def rooms(self) -> dict[str, int]:
        return {room: len(peers) for room, peers in self._rooms.items()}

    async def close_all(self, code: int, reason: str) -> None:
        """Close every connection (server shut-down).

        Nobody is told that the others left: they did not. Media is peer to peer, and a
        call must outlive a restart of its signalling server. Where rooms span servers,
        the others find this one's members orphaned, as after a crash, and keep them for
        the liveness timeout: they resume on another server.
        """
        for session in list(self._sessions):
            if session.claims is not None:
                self._rooms.get(session.claims.room_id, {}).pop(session.peer_id, None)
                session.claims = None  # it did not leave: nobody hears that it did
            self._close(session, code, reason)
        self._rooms.clear()

    async def kick(self, predicate: Callable[[JoinClaims], bool], code: int, reason: str) -> int:
        """Close every connection whose claims match (a revoked device); returns how many."""
        matching = [s for s in self._sessions if s.claims is not None and predicate(s.claims)]
        for session in matching:
            self._leave(session)
            self._close(session, code, reason)
        return len(matching)

    def refusal(self, address: str) -> str | None:
        """Why a new socket from ``address`` would be refused now, or None."""
        if len(self._sessions) >= self._limits.sockets:
            return f"the server holds at most {self._limits.sockets} signalling sockets"
        mine = self._by_address.get(address, ())
        if len(mine) >= self._limits.per_address:
            return f"at most {self._limits.per_address} signalling sockets per address"
        if sum(s.claims is None for s in mine) >= self._limits.unjoined_per_address:
            return f"at most {self._limits.unjoined_per_address} unjoined sockets per address"
        return None

    async def serve(self, transport: Transport) -> None:
        """Run the protocol for one connection until it closes."""
        address = transport.address
        refused = self.refusal(address)
        if refused is not None:
            log.warning("refusing a signalling socket from %s: %s", address, refused)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await transport.close(CLOSE_TOO_SLOW, "too many sockets")
            return
        session = _Session(transport, address)
        self._sessions.add(session)
        self._by_address.setdefault(address, set()).add(session)
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
            mine = self._by_address.get(address)
            if mine is not None:
                mine.discard(session)
                if not mine:
                    del self._by_address[address]
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
        if self._token_in_use(session, claims):
            return
        if self._full(session, self._rooms.get(claims.room_id, {})):
            return
        ice = await self._ice_servers(claims)
        secret = await self._resume_secret(claims)
        room = self._rooms.setdefault(claims.room_id, {})  # may have emptied meanwhile
        if self._full(session, room):
            return
        if session.closing or self._token_in_use(session, claims):  # changed while we waited
            return
        # the name the clinic put in the token, not one the client chose (section 6)
        name = (claims.name or message.name)[:100]
        peer_id = self._peer_id(message.resume, room, claims, secret)
        remote: list[PeerInfo] = []
        if self._federation is not None:
            entered = await self._enter(session, claims, peer_id, name)
            if entered is None:
                return
            peer_id, remote = entered
            room = self._rooms.setdefault(claims.room_id, {})
        session.claims, session.name, session.peer_id = claims, name, peer_id
        if claims.token_id:
            self._live_tokens[claims.token_id] = session
        resumed = message.resume is not None and session.peer_id == message.resume.peer_id
        others = list(room.values())
        room[session.peer_id] = session
        key = resume.resume_key(secret, claims.room_id, session.peer_id, claims.subject)
        peers = [o.info() for o in others] + remote
        self._send(session, m.joined(claims.room_id, session.peer_id, peers, ice, key))
        for other in others:
            self._send(other, m.peer_joined(session.info()))
        if self._federation is not None:
            self._federation.tell(claims.room_id, m.peer_joined(session.info()))
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
            for peer in remote:
                self._listener.peer_joined_elsewhere(claims.room_id, peer)

    def _full(self, session: _Session, room: dict[str, _Session]) -> bool:
        """Alone, the hub counts its room; spanning servers, the federation does."""
        if self._federation is None and len(room) >= self._max:
            self._error(session, ErrorCode.ROOM_FULL, f"the room holds at most {self._max}")
            return True
        return False

    async def _enter(
        self, session: _Session, claims: JoinClaims, peer_id: str, name: str
    ) -> tuple[str, list[PeerInfo]] | None:
        """The room over every server takes the peer (a taken id: a fresh one instead);
        its members elsewhere, or None (refused, told; or this session went meanwhile)."""
        assert self._federation is not None
        while True:
            info = PeerInfo(peer_id=peer_id, name=name, role=claims.role)
            entered = await self._federation.enter(claims.room_id, info, claims.token_id, self._max)
            if not isinstance(entered, Refused):
                break
            if entered.why == "full":
                self._error(session, ErrorCode.ROOM_FULL, f"the room holds at most {self._max}")
                return None
            if entered.why == "token":
                self._error(
                    session, ErrorCode.FORBIDDEN, "this join token is in use; ask for a fresh one"
                )
                return None
            peer_id = secrets.token_urlsafe(8)  # taken
        if session.closing or self._token_in_use(session, claims):
            self._federation.leave(claims.room_id, peer_id)
            return None
        return peer_id, entered.others

    def deliver(self, room_id: str, peer_ids: list[str] | None, message: dict[str, Any]) -> None:
        """A message from another server for this one's members of ``room_id``."""
        room = self._rooms.get(room_id, {})
        if self._listener is not None and room:
            if message.get("type") == "peer_joined":
                self._listener.peer_joined_elsewhere(room_id, PeerInfo(**message["peer"]))
            elif message.get("type") == "peer_left":
                self._listener.peer_left_elsewhere(room_id, message["peer_id"])
        for peer_id in room if peer_ids is None else peer_ids:
            session = room.get(peer_id)
            if session is not None:
                self._send(session, message)

    def _token_in_use(self, session: _Session, claims: JoinClaims) -> bool:
        """A join token serves one live session at a time; a rejoin asks for a fresh one."""
        if claims.token_id and claims.token_id in self._live_tokens:
            self._error(
                session, ErrorCode.FORBIDDEN, "this join token is in use; ask for a fresh one"
            )
            return True
        return False

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
        relayed = {**message.model_dump(), "from": session.peer_id}
        if target is None and self._federation is not None and message.to != session.peer_id:
            self._federation.relay(
                session.claims.room_id, message.to, relayed, lambda: self._unknown(session, message)
            )
            return
        if target is None or target is session:
            self._unknown(session, message)
            return
        self._send(target, relayed)

    def _unknown(self, session: _Session, message: m.Relayed) -> None:
        self._error(session, ErrorCode.UNKNOWN_PEER, f"no peer {message.to!r} in this room")

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
        if self._federation is not None:
            self._federation.leave(claims.room_id, session.peer_id)
        session.claims = None
        if self._live_tokens.get(claims.token_id) is session:
            del self._live_tokens[claims.token_id]
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
        if session.queued_bytes + len(text) > OUTBOX_BYTES:
            # a client that does not read must not hold memory or stall its room
            self._drop_slow(session, "its own budget")
            return
        while self._queued_bytes + len(text) > HUB_OUTBOX_BYTES:
            # the server's budget is full: the client with the most unread goes, which is
            # an attacker's slow socket long before it is this message's recipient
            slowest = max(self._sessions, key=lambda s: s.queued_bytes, default=None)
            if slowest is None or slowest.queued_bytes == 0:
                break
            self._drop_slow(slowest, "the server's budget")
            if slowest is session:
                return
        session.queued_bytes += len(text)
        self._queued_bytes += len(text)
        session.outbox.put_nowait(text)

    def _drop_slow(self, session: _Session, budget: str) -> None:
        log.warning(
            "dropping peer %s: %d bytes unread (%s)", session.peer_id, session.queued_bytes, budget
        )
        self._leave(session)
        self._discard_outbox(session)
        self._close(session, CLOSE_TOO_SLOW, "too slow")

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
            asyncio.get_running_loop().call_later(CLOSE_GRACE_S, self._cut_off, session)

    def _cut_off(self, session: _Session) -> None:
        if session in self._sessions:
            log.info(
                "peer %s did not take its close in %g s; cut off", session.peer_id, CLOSE_GRACE_S
            )
            session.transport.abort()

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
