"""The signalling wire messages (PROTOCOL.md section 2), as pydantic models.

Written once, used by the hub (clinic service and LAN fallback), the device's client and
the tests. Unknown fields are accepted (the contract may be extended), wrong types are not.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kiosk.signalling.validation import problems

SIGNAL_PATH = "/api/v1/signal"  # where the signalling WebSocket is served
MAX_FRAME_BYTES = 64 * 1024
JOIN_TIMEOUT_S = 10.0
SILENCE_TIMEOUT_S = 10.0  # v1.1 liveness: a session heard nothing from this long is closed
CLIENT_PING_S = 3.0  # clients ping at least every 4 s
MAX_PARTICIPANTS = 6


class Role(StrEnum):
    CLINICIAN = "clinician"
    DEVICE = "device"
    GUEST = "guest"
    PATIENT = "patient"


class ErrorCode(StrEnum):
    BAD_MESSAGE = "bad_message"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    ROOM_FULL = "room_full"
    NOT_JOINED = "not_joined"
    UNKNOWN_PEER = "unknown_peer"
    TOO_LARGE = "too_large"


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# ---- client -> server ----------------------------------------------------------------


class Resume(_Message):
    """v1.1: the peer id (and its key, from `joined`) of a session whose socket dropped."""

    peer_id: str = Field(min_length=1, max_length=64)
    resume_key: str = Field(min_length=1, max_length=128)


class Join(_Message):
    type: Literal["join"]
    token: str = Field(min_length=1, max_length=8192)
    name: str = Field("", max_length=100)
    resume: Resume | None = None


class Offer(_Message):
    type: Literal["offer"]
    to: str = Field(min_length=1, max_length=64)
    sdp: str = Field(min_length=1)


class Answer(_Message):
    type: Literal["answer"]
    to: str = Field(min_length=1, max_length=64)
    sdp: str = Field(min_length=1)


class Candidate(_Message):
    type: Literal["candidate"]
    to: str = Field(min_length=1, max_length=64)
    candidate: dict[str, Any] | None


class Leave(_Message):
    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Join | Offer | Answer | Candidate | Leave | Ping, Field(discriminator="type")
]
Relayed = Offer | Answer | Candidate

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class BadMessageError(ValueError):
    """A frame that is not a valid client message; ``code`` says which contract error."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate, which JSON can carry, counts as 3)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def parse_client_message(frame: str | bytes) -> ClientMessage:
    """Parse one text frame; raise BadMessageError naming what is wrong."""
    # PROTOCOL.md section 6: the limit is UTF-8 bytes (a character may take four)
    size = len(frame) if isinstance(frame, bytes) else utf8_length(frame)
    if size > MAX_FRAME_BYTES:
        raise BadMessageError(ErrorCode.TOO_LARGE, f"frames are limited to {MAX_FRAME_BYTES} bytes")
    if isinstance(frame, bytes):
        raise BadMessageError(ErrorCode.BAD_MESSAGE, "binary frames are not part of the protocol")
    try:
        data = json.loads(frame)
    except ValueError as exc:
        raise BadMessageError(ErrorCode.BAD_MESSAGE, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessageError(ErrorCode.BAD_MESSAGE, "a message is a JSON object")
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        listed = "; ".join(problems(exc, root="message"))
        raise BadMessageError(ErrorCode.BAD_MESSAGE, listed[:500]) from None


# ---- server -> client ----------------------------------------------------------------


class PeerInfo(BaseModel):
    peer_id: str
    name: str
    role: Role


def joined(
    room_id: str,
    peer_id: str,
    peers: list[PeerInfo],
    ice_servers: list[dict[str, Any]],
    resume_key: str | None = None,
) -> dict[str, Any]:
    message = {
        "type": "joined",
        "room_id": room_id,
        "peer_id": peer_id,
        "peers": [p.model_dump(mode="json") for p in peers],
        "ice_servers": ice_servers,
    }
    if resume_key is not None:
        message["resume_key"] = resume_key
    return message


class _JoinedPeer(_Message):
    peer_id: str = Field(min_length=1, max_length=64)
    name: str = ""
    role: str = ""


class JoinedMessage(_Message):
    """`joined` as a client checks it before trusting its fields (a LAN host is only
    another box)."""

    type: Literal["joined"]
    room_id: str = Field(min_length=1)
    peer_id: str = Field(min_length=1, max_length=64)
    peers: list[_JoinedPeer] = Field(default_factory=list, max_length=64)  # an SFU may hold more
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    resume_key: str | None = None


def peer_joined(peer: PeerInfo) -> dict[str, Any]:
    return {"type": "peer_joined", "peer": peer.model_dump(mode="json")}


def peer_left(peer_id: str) -> dict[str, Any]:
    return {"type": "peer_left", "peer_id": peer_id}


def error(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code.value, "message": message}


PONG: dict[str, Any] = {"type": "pong"}
