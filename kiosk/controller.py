"""The call state machine: events in, commands out, no I/O.

The daemon feeds it what happened (a button, a join that worked, a timer) and carries out
the commands it returns (join a room, show LEDs, start a timer). Every state change goes
through one setter, which logs it and records it in :attr:`Controller.transitions`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hal import OFF, ON, LedMode, blink, pulse
from kiosk.errors import InvalidTransitionError

log = logging.getLogger(__name__)


class State(StrEnum):
    NOT_ENROLLED = "not_enrolled"
    IDLE = "idle"
    JOINING = "joining"
    IN_CALL = "in_call"
    LEAVING = "leaving"
    ERROR = "error"


class Action(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    TOGGLE_MUTE = "toggle_mute"
    TOGGLE_CAMERA = "toggle_camera"
    ANSWER_NEXT_PATIENT = "answer_next_patient"


@dataclass(frozen=True, slots=True)
class ButtonAction:
    action: Action
    room_id: str | None = None


# ---- LEDs: one table for every state, and overlays for the flags ----------------------

LED_NAMES = ("ready", "call", "mute", "camera", "error", "patient")

STATE_LEDS: Mapping[State, Mapping[str, LedMode]] = {
    State.NOT_ENROLLED: {"ready": pulse(0.5)},
    State.IDLE: {"ready": ON},
    State.JOINING: {"ready": ON, "call": blink(2)},
    State.IN_CALL: {"ready": ON, "call": ON},
    State.LEAVING: {"ready": ON, "call": blink(4)},
    State.ERROR: {"error": blink(2)},
}

# applied over the state's pattern, in this order
FLAG_LEDS: Mapping[str, Mapping[str, LedMode]] = {
    "local_signalling": {"ready": pulse(1)},  # the cloud is gone: joins go over the LAN
    "muted": {"mute": ON},
    "camera_off": {"camera": ON},
    "degraded": {"error": ON},  # a peripheral is missing or broken
    "rejected": {"error": blink(8)},  # the last press could do nothing; cleared by a timer
    "identify": dict.fromkeys(LED_NAMES, blink(4)),  # the admin asked "which box is this?"
}

# someone waits in the clinic's waiting area and the box is free to answer
PATIENT_WAITING: Mapping[str, LedMode] = {"patient": pulse(1)}

IDENTIFY_SECONDS = 10.0

FEEDBACK_SECONDS = 1.0
ERROR_SECONDS = 5.0

# ---- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigApplied:
    """The admin's device config is in force (at enrollment, start-up or on change)."""

    buttons: Mapping[int, ButtonAction]
    auto_leave_minutes: float = 120
    chime: bool = False  # a soft chime when a patient arrives in an empty waiting area


@dataclass(frozen=True, slots=True)
class Unenrolled:
    reason: str


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    number: int


@dataclass(frozen=True, slots=True)
class JoinSucceeded:
    room_id: str


@dataclass(frozen=True, slots=True)
class JoinFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call ended from outside: remote hang-up, the room closed, media failed."""

    reason: str


@dataclass(frozen=True, slots=True)
class LeaveFinished:
    """Every resource of the call is released."""


@dataclass(frozen=True, slots=True)
class RemoteCommand:
    action: str  # leave | mute (the others are not the state machine's)
    command_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class PeripheralsChanged:
    degraded: bool


@dataclass(frozen=True, slots=True)
class SignallingChanged:
    """New joins go through the clinic (cloud) or a LAN fallback host (local)."""

    local: bool


@dataclass(frozen=True, slots=True)
class Identify:
    """Blink every LED for a while, so the admin can find the box."""


@dataclass(frozen=True, slots=True)
class PatientsWaiting:
    """How many patients wait in the clinic's waiting area (the clinic says so)."""

    count: int


@dataclass(frozen=True, slots=True)
class NobodyWaiting:
    """Answering the next patient found nobody there to answer."""


Event = (
    ConfigApplied
    | Unenrolled
    | ButtonPressed
    | JoinSucceeded
    | JoinFailed
    | CallEnded
    | LeaveFinished
    | RemoteCommand
    | TimerFired
    | PeripheralsChanged
    | SignallingChanged
    | Identify
    | PatientsWaiting
    | NobodyWaiting
)

# ---- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowLeds:
    pattern: Mapping[str, LedMode]


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room_id: str


@dataclass(frozen=True, slots=True)
class JoinNextPatient:
    """Join the private space of the longest-waiting patient."""


@dataclass(frozen=True, slots=True)
class LeaveCall:
    reason: str


@dataclass(frozen=True, slots=True)
class SetMicrophone:
    muted: bool


@dataclass(frozen=True, slots=True)
class SetCamera:
    enabled: bool


@dataclass(frozen=True, slots=True)
class PlayChime:
    """A soft chime through the speaker: someone has come to the waiting area."""


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    command_id: str
    ok: bool
    message: str | None = None


Command = (
    ShowLeds
    | JoinRoom
    | JoinNextPatient
    | LeaveCall
    | SetMicrophone
    | SetCamera
    | StartTimer
    | CancelTimer
    | CommandResult
    | PlayChime
)


@dataclass(frozen=True, slots=True)
class Transition:
    source: State
    target: State
    cause: str


@dataclass(slots=True)
class Controller:
    """The call state machine of one box."""

    _state: State = State.NOT_ENROLLED
    buttons: Mapping[int, ButtonAction] = field(default_factory=dict)
    auto_leave_minutes: float = 120
    room_id: str | None = None
    muted: bool = False
    camera_off: bool = False
    degraded: bool = False
    local_signalling: bool = False
    rejected: bool = False
    identify: bool = False
    waiting: int | None = None  # patients waiting, as the clinic last said (None: unknown)
    chime: bool = False
    last_error: str | None = None
    transitions: list[Transition] = field(default_factory=list)
    _pending: JoinRoom | JoinNextPatient | None = None
    _in_assigned_room: bool = False  # joined a button's room (not a patient's space)
    _leds: Mapping[str, LedMode] = field(default_factory=dict)
    _out: list[Command] = field(default_factory=list)

    @property
    def state(self) -> State:
        return self._state

    def _set_state(self, target: State, cause: str) -> None:
        if target is self._state:
            return
        log.info("state %s -> %s (%s)", self._state, target, cause)
        self.transitions.append(Transition(self._state, target, cause))
        self._state = target

    def start(self) -> list[Command]:
        """The commands that show the initial state."""
        self._out = []
        self._refresh_leds()
        return self._take()

    def leds(self) -> dict[str, LedMode]:
        pattern = dict.fromkeys(LED_NAMES, OFF)
        pattern.update(STATE_LEDS[self._state])
        if self.waiting and self._state is State.IDLE:
            pattern.update(PATIENT_WAITING)
        for flag, overlay in FLAG_LEDS.items():
            if getattr(self, flag):
                pattern.update(overlay)
        return pattern

    def handle(self, event: Event) -> list[Command]:
        """Apply ``event``; return what the daemon must do, in order.

        Raises InvalidTransitionError for an event that cannot happen in this state (a
        bug in the caller); presses never raise, a press that can do nothing blinks.
        """
        self._out = []
        match event:
            case ConfigApplied():
                self._on_config(event)
            case Unenrolled(reason):
                self._on_unenrolled(reason)
            case ButtonPressed(number):
                self._on_press(number)
            case JoinSucceeded(room_id):
                self._expect(event, State.JOINING)
                self.room_id = room_id
                self._set_state(State.IN_CALL, f"joined {room_id}")
                self._emit(StartTimer("auto_leave", self.auto_leave_minutes * 60))
            case JoinFailed(reason):
                self._expect(event, State.JOINING)
                self.room_id = None
                self.last_error = reason
                self._set_state(State.ERROR, f"join failed: {reason}")
                self._emit(StartTimer("error", ERROR_SECONDS))
            case CallEnded(reason):
                self._expect(event, State.JOINING, State.IN_CALL, State.LEAVING)
                self._leave(reason)
            case LeaveFinished():
                self._expect(event, State.LEAVING)
                self._on_left()
            case RemoteCommand(action, command_id):
                self._on_command(action, command_id)
            case TimerFired(name):
                self._on_timer(name)
            case PeripheralsChanged(degraded):
                self.degraded = degraded
            case SignallingChanged(local):
                self.local_signalling = local
            case Identify():
                self.identify = True
                self._emit(StartTimer("identify", IDENTIFY_SECONDS))
            case PatientsWaiting(count):
                # the first arrival in an empty waiting area (not the count told at start)
                if self.chime and self.waiting == 0 and count > 0 and self._state is State.IDLE:
                    self._emit(PlayChime())
                self.waiting = count
            case NobodyWaiting():
                self._expect(event, State.JOINING)
                self._set_state(State.IDLE, "nobody is waiting")
                self._nobody_waiting()
        self._refresh_leds()
        return self._take()

    # ---- handlers -------------------------------------------------------------------

    def _on_config(self, event: ConfigApplied) -> None:
        self.buttons = dict(event.buttons)
        self.chime = event.chime
        self.auto_leave_minutes = event.auto_leave_minutes
        if self._state is State.NOT_ENROLLED:
            self._set_state(State.IDLE, "device config applied")
        elif (
            self._state is State.IN_CALL
            and self._in_assigned_room
            and not self._assigned(self.room_id)
        ):
            # the admin took this room off the buttons: the box may no longer be there
            self._leave("room no longer assigned")

    def _assigned(self, room_id: str | None) -> bool:
        return any(a.action is Action.JOIN and a.room_id == room_id for a in self.buttons.values())

    def _on_unenrolled(self, reason: str) -> None:
        if self._state in (State.JOINING, State.IN_CALL):
            self._emit(LeaveCall(f"unenrolled: {reason}"))
            self._emit(CancelTimer("auto_leave"))
        self.buttons = {}
        self.room_id = None
        self._pending = None
        self._set_state(State.NOT_ENROLLED, reason)

    def _on_press(self, number: int) -> None:
        action = self.buttons.get(number)
        if action is None or self._state is State.NOT_ENROLLED:
            self._reject(f"button {number} has no action")
            return
        match action.action:
            case Action.TOGGLE_MUTE:
                self.muted = not self.muted
                self._emit(SetMicrophone(self.muted))
            case Action.TOGGLE_CAMERA:
                self.camera_off = not self.camera_off
                self._emit(SetCamera(not self.camera_off))
            case Action.LEAVE:
                if self._state in (State.JOINING, State.IN_CALL):
                    self._leave(f"button {number}")
                else:
                    self._reject("not in a call")
            case Action.JOIN:
                assert action.room_id is not None
                self._join(JoinRoom(action.room_id), f"button {number}")
            case Action.ANSWER_NEXT_PATIENT:
                if self.waiting == 0 and self._state in (State.IDLE, State.ERROR):
                    self._nobody_waiting()
                else:
                    self._join(JoinNextPatient(), f"button {number}")

    def _join(self, command: JoinRoom | JoinNextPatient, cause: str) -> None:
        if self._state in (State.IDLE, State.ERROR):
            self._emit(CancelTimer("error"))
            self._start_join(command, cause)
        elif self._state in (State.JOINING, State.IN_CALL):
            if isinstance(command, JoinRoom) and command.room_id == self.room_id:
                return  # already there, or on the way: nothing to do
            self._leave(f"{cause}: switching room")
            self._pending = command
        else:  # LEAVING: join once the current call is released
            self._pending = command

    def _start_join(self, command: JoinRoom | JoinNextPatient, cause: str) -> None:
        self.room_id = command.room_id if isinstance(command, JoinRoom) else None
        self._in_assigned_room = isinstance(command, JoinRoom)
        self.last_error = None
        self._set_state(State.JOINING, cause)
        self._emit(command)

    def _leave(self, reason: str) -> None:
        if self._state is State.LEAVING:
            return
        self._emit(CancelTimer("auto_leave"))
        self._set_state(State.LEAVING, reason)
        self._emit(LeaveCall(reason))

    def _on_left(self) -> None:
        self.room_id = None
        pending, self._pending = self._pending, None
        self._set_state(State.IDLE, "call released")
        if pending is not None:
            self._start_join(pending, "pending join")

    def _on_command(self, action: str, command_id: str) -> None:
        if action == "mute":
            # a remote mute can only ever mute; only a person in the room unmutes
            if not self.muted:
                self.muted = True
                self._emit(SetMicrophone(True))
            self._emit(CommandResult(command_id, True))
        elif action == "leave":
            if self._state in (State.JOINING, State.IN_CALL):
                self._leave("admin command")
                self._emit(CommandResult(command_id, True))
            else:
                self._emit(CommandResult(command_id, True, f"not in a call ({self._state})"))
        else:
            self._emit(CommandResult(command_id, False, f"unknown command {action!r}"))

    def _on_timer(self, name: str) -> None:
        if name == "feedback":
            self.rejected = False
        elif name == "identify":
            self.identify = False
        elif name == "auto_leave" and self._state is State.IN_CALL:
            self._leave(f"auto-leave after {self.auto_leave_minutes:g} minutes")
        elif name == "error" and self._state is State.ERROR:
            self._set_state(State.IDLE, "error shown")

    def _nobody_waiting(self) -> None:
        self.last_error = "nobody is waiting"  # for `kiosk status` and the terminal
        self._reject(self.last_error)

    def _reject(self, why: str) -> None:
        log.info("press ignored: %s", why)
        self.rejected = True
        self._emit(StartTimer("feedback", FEEDBACK_SECONDS))

    # ---- plumbing -------------------------------------------------------------------

    def _expect(self, event: Event, *states: State) -> None:
        if self._state not in states:
            raise InvalidTransitionError(
                f"{type(event).__name__} in state {self._state}; expected one of "
                + ", ".join(s.value for s in states)
            )

    def _emit(self, command: Command) -> None:
        self._out.append(command)

    def _refresh_leds(self) -> None:
        pattern = self.leds()
        if pattern != self._leds:
            self._leds = pattern
            self._emit(ShowLeds(pattern))

    def _take(self) -> list[Command]:
        out, self._out = self._out, []
        return out
