"""What the screen is about, as plain data: a snapshot the daemon gives, the scene is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Video(StrEnum):
    LIVE = "live"
    PAUSED = "paused"  # pictures came, then stopped: never shown as a stale frame
    OFF = "off"  # no picture yet (camera off, or no camera)


class Connection(StrEnum):
    CLOUD = "cloud"
    LOCAL = "local"  # the clinic is gone; calls go over the clinic's LAN
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Participant:
    key: str  # the peer id: which picture goes in this tile
    name: str
    muted: bool
    video: Video


@dataclass(frozen=True, slots=True)
class View:
    state: str  # the controller's: not_enrolled, idle, joining, in_call, leaving, error
    box_name: str = ""
    serial: str = ""
    connection: Connection = Connection.UNREACHABLE
    clock: str = ""  # HH:MM
    buttons: tuple[str, ...] = ()  # "1  Join Meeting room 1", in button order
    waiting: int | None = None
    room: str = ""  # the room's name where known, else its id
    problem: str = ""  # why the last join failed
    participants: tuple[Participant, ...] = ()  # in the order they came
    duration: str = ""  # "12:05" in a call
    muted: bool = False
    camera_off: bool = False
    identify: bool = False
    enroll_hint: tuple[str, ...] = field(default_factory=tuple)
