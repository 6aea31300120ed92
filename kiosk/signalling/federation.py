"""What a hub needs of the other servers of one clinic service (the clinic's Redis bus),
when rooms span several processes. A hub without one is alone, as on a kiosk's LAN.

Calls are made in the order the hub makes them and carried out in that order; only
`enter` is awaited (the hub needs its answer before `joined`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.signalling.messages import PeerInfo

# messages from another server for this hub's peers: (room id, peer ids or None for
# all of the room's peers here, message)
Deliver = Callable[[str, list[str] | None, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Entered:
    others: list[PeerInfo]  # the room's members on other servers


@dataclass(frozen=True, slots=True)
class Refused:
    why: str  # "full": the room holds its maximum; "taken": that peer id is someone's;
    # "token": the join token serves a session on another server


class Federation(Protocol):
    def attach(self, deliver: Deliver) -> None:
        """Where messages for this hub's peers arrive."""

    async def enter(
        self, room_id: str, peer: PeerInfo, token_id: str, cap: int
    ) -> Entered | Refused:
        """Take ``peer.peer_id`` in the room, if the room over every server has fewer
        than ``cap`` members (atomic), the id is nobody's (a member whose server died is
        nobody's: a resume takes it back) and the token is not in use elsewhere."""

    def leave(self, room_id: str, peer_id: str) -> None:
        """The peer left: gone from the room; its members elsewhere hear `peer_left`."""

    def tell(self, room_id: str, message: dict[str, Any]) -> None:
        """To the room's members on the other servers."""

    def relay(
        self, room_id: str, to: str, message: dict[str, Any], unknown: Callable[[], None]
    ) -> None:
        """To one member on another server; ``unknown()`` if the room has no such peer."""
