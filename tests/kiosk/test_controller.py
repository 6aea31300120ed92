"""The call state machine, fed events, checked on the whole recorded transition list."""

from __future__ import annotations

import pytest

from hal import OFF, ON, blink, pulse
from kiosk.controller import (
    LED_NAMES,
    Action,
    ButtonAction,
    ButtonPressed,
    CallEnded,
    CancelTimer,
    CommandResult,
    ConfigApplied,
    Controller,
    JoinFailed,
    JoinNextPatient,
    JoinRoom,
    JoinSucceeded,
    LeaveCall,
    LeaveFinished,
    NobodyWaiting,
    PatientsWaiting,
    PeripheralsChanged,
    PlayChime,
    RemoteCommand,
    SetCamera,
    SetMicrophone,
    ShowLeds,
    StartTimer,
    State,
    TimerFired,
    Unenrolled,
)
from kiosk.errors import InvalidTransitionError

BUTTONS = {
    1: ButtonAction(Action.JOIN, "room-a"),
    2: ButtonAction(Action.JOIN, "room-b"),
    3: ButtonAction(Action.LEAVE),
    4: ButtonAction(Action.TOGGLE_MUTE),
    5: ButtonAction(Action.TOGGLE_CAMERA),
    6: ButtonAction(Action.ANSWER_NEXT_PATIENT),
}

S = State
ALL_OFF = dict.fromkeys(LED_NAMES, OFF)


def path(c: Controller) -> list[tuple[State, State]]:
    return [(t.source, t.target) for t in c.transitions]


def enrolled() -> Controller:
    c = Controller()
    c.start()
    c.handle(ConfigApplied(BUTTONS, auto_leave_minutes=30))
    return c


def non_led(commands: list[object]) -> list[object]:
    return [c for c in commands if not isinstance(c, ShowLeds)]


def test_starts_not_enrolled_and_shows_it() -> None:
    c = Controller()
    commands = c.start()
    assert c.state is S.NOT_ENROLLED
    assert commands == [
        ShowLeds(
            {
                "ready": pulse(0.5),
                "call": OFF,
                "mute": OFF,
                "camera": OFF,
                "error": OFF,
                "patient": OFF,
            }
        )
    ]


def test_a_press_before_enrollment_blinks_and_changes_no_state() -> None:
    c = Controller()
    c.start()
    commands = c.handle(ButtonPressed(1))
    assert c.state is S.NOT_ENROLLED
    assert commands == [
        StartTimer("feedback", 1.0),
        ShowLeds(
            {
                "ready": pulse(0.5),
                "call": OFF,
                "mute": OFF,
                "camera": OFF,
                "error": blink(8),
                "patient": OFF,
            }
        ),
    ]
    assert c.handle(TimerFired("feedback"))[-1] == ShowLeds({**ALL_OFF, "ready": pulse(0.5)})
    assert c.transitions == []


def test_join_call_leave() -> None:
    c = enrolled()
    assert non_led(c.handle(ButtonPressed(1))) == [CancelTimer("error"), JoinRoom("room-a")]
    assert c.leds()["call"] == blink(2)
    assert non_led(c.handle(JoinSucceeded("room-a"))) == [StartTimer("auto_leave", 1800)]
    assert c.leds()["call"] == ON
    assert non_led(c.handle(ButtonPressed(3))) == [CancelTimer("auto_leave"), LeaveCall("button 3")]
    c.handle(LeaveFinished())
    assert path(c) == [
        (S.NOT_ENROLLED, S.IDLE),
        (S.IDLE, S.JOINING),
        (S.JOINING, S.IN_CALL),
        (S.IN_CALL, S.LEAVING),
        (S.LEAVING, S.IDLE),
    ]
    assert c.room_id is None


def test_pressing_the_current_rooms_button_does_nothing() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    assert c.handle(ButtonPressed(1)) == []
    assert c.state is S.IN_CALL


def test_another_rooms_button_leaves_then_joins_it() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    assert LeaveCall("button 2: switching room") in c.handle(ButtonPressed(2))
    assert JoinRoom("room-b") in c.handle(LeaveFinished())
    c.handle(JoinSucceeded("room-b"))
    assert path(c)[-4:] == [
        (S.IN_CALL, S.LEAVING),
        (S.LEAVING, S.IDLE),
        (S.IDLE, S.JOINING),
        (S.JOINING, S.IN_CALL),
    ]
    assert c.room_id == "room-b"


def test_a_failed_join_shows_the_error_then_returns_to_idle() -> None:
    c = enrolled()
    c.handle(ButtonPressed(6))
    commands = c.handle(JoinFailed("nobody is waiting"))
    assert StartTimer("error", 5.0) in commands
    assert c.leds()["error"] == blink(2)
    assert c.last_error == "nobody is waiting"
    c.handle(TimerFired("error"))
    assert path(c) == [
        (S.NOT_ENROLLED, S.IDLE),
        (S.IDLE, S.JOINING),
        (S.JOINING, S.ERROR),
        (S.ERROR, S.IDLE),
    ]


def test_answer_next_patient_asks_for_the_next_patient() -> None:
    c = enrolled()
    assert JoinNextPatient() in c.handle(ButtonPressed(6))
    c.handle(JoinSucceeded("patient-space-7"))
    assert c.room_id == "patient-space-7"


def test_mute_and_camera_toggles_and_their_leds() -> None:
    c = enrolled()
    assert non_led(c.handle(ButtonPressed(4))) == [SetMicrophone(True)]
    assert non_led(c.handle(ButtonPressed(5))) == [SetCamera(False)]
    assert (c.leds()["mute"], c.leds()["camera"]) == (ON, ON)
    assert non_led(c.handle(ButtonPressed(4))) == [SetMicrophone(False)]
    assert c.leds()["mute"] == OFF
    assert c.transitions[-1].target is S.IDLE  # toggles are flags, not states


def test_a_remote_mute_never_unmutes() -> None:
    c = enrolled()
    c.handle(ButtonPressed(4))  # muted by the clinician
    assert non_led(c.handle(RemoteCommand("mute", "c1"))) == [CommandResult("c1", True)]
    assert c.muted
    c.handle(RemoteCommand("mute", "c2"))
    assert c.muted


def test_remote_leave_and_auto_leave_end_the_call() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    commands = c.handle(RemoteCommand("leave", "c9"))
    assert LeaveCall("admin command") in commands
    assert CommandResult("c9", True) in commands
    c.handle(LeaveFinished())
    c.handle(ButtonPressed(2))
    c.handle(JoinSucceeded("room-b"))
    assert LeaveCall("auto-leave after 30 minutes") in c.handle(TimerFired("auto_leave"))


def test_a_remote_hang_up_releases_the_call() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    assert LeaveCall("media failed") in c.handle(CallEnded("media failed"))
    c.handle(LeaveFinished())
    assert c.state is S.IDLE


def test_a_stale_auto_leave_timer_is_harmless() -> None:
    c = enrolled()
    assert non_led(c.handle(TimerFired("auto_leave"))) == []
    assert c.state is S.IDLE


def test_the_admin_removing_the_current_room_ends_the_call() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    remaining = {k: v for k, v in BUTTONS.items() if k != 1}
    assert LeaveCall("room no longer assigned") in c.handle(ConfigApplied(remaining))


def test_revocation_in_a_call_leaves_and_forgets_the_buttons() -> None:
    c = enrolled()
    c.handle(ButtonPressed(1))
    c.handle(JoinSucceeded("room-a"))
    assert LeaveCall("unenrolled: revoked") in c.handle(Unenrolled("revoked"))
    assert c.state is S.NOT_ENROLLED
    assert c.buttons == {}


def test_a_degraded_peripheral_lights_the_error_led() -> None:
    c = enrolled()
    c.handle(PeripheralsChanged(degraded=True))
    assert c.leds()["error"] == ON
    c.handle(PeripheralsChanged(degraded=False))
    assert c.leds()["error"] == OFF


@pytest.mark.parametrize(
    "event", [JoinSucceeded("room-a"), JoinFailed("x"), LeaveFinished(), CallEnded("x")]
)
def test_events_that_cannot_happen_when_idle_are_rejected(event: object) -> None:
    c = enrolled()
    with pytest.raises(InvalidTransitionError, match="in state idle"):
        c.handle(event)  # type: ignore[arg-type]
    assert c.state is S.IDLE


def test_leave_with_nothing_to_leave_blinks() -> None:
    c = enrolled()
    c.handle(ButtonPressed(3))
    assert c.leds()["error"] == blink(8)
    assert c.state is S.IDLE


def test_every_transition_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kiosk.controller")
    c = enrolled()
    c.handle(ButtonPressed(1))
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("state")] == [
        "state not_enrolled -> idle (device config applied)",
        "state idle -> joining (button 1)",
    ]


def test_the_patient_led_pulses_while_someone_waits_and_the_box_is_free() -> None:
    c = enrolled()
    assert c.leds()["patient"] == OFF
    c.handle(PatientsWaiting(2))
    assert c.leds()["patient"] == pulse(1)
    c.handle(ButtonPressed(1))  # busy: joining, then in a call
    assert c.leds()["patient"] == OFF
    c.handle(JoinSucceeded("room-a"))
    assert c.leds()["patient"] == OFF
    c.handle(ButtonPressed(3))
    c.handle(LeaveFinished())
    assert c.leds()["patient"] == pulse(1)  # free again, and they still wait
    c.handle(PatientsWaiting(0))
    assert c.leds()["patient"] == OFF


def test_answering_with_nobody_waiting_blinks_and_stays_idle() -> None:
    c = enrolled()
    c.handle(PatientsWaiting(0))
    commands = c.handle(ButtonPressed(6))
    assert c.state is S.IDLE
    assert StartTimer("feedback", 1.0) in commands
    assert c.leds()["error"] == blink(8)
    # the clinic said someone waits, but the box found nobody there to answer
    c.handle(TimerFired("feedback"))
    c.handle(PatientsWaiting(1))
    assert JoinNextPatient() in c.handle(ButtonPressed(6))
    c.handle(NobodyWaiting())
    assert c.state is S.IDLE
    assert c.leds()["error"] == blink(8)
    assert c.transitions[-1].cause == "nobody is waiting"
    assert c.last_error == "nobody is waiting"


def test_a_chime_when_a_patient_arrives_in_an_empty_waiting_area_if_the_admin_wants() -> None:
    c = Controller()
    c.start()
    c.handle(ConfigApplied(BUTTONS, chime=True))
    assert PlayChime() not in c.handle(PatientsWaiting(1))  # told at start: no arrival
    c.handle(PatientsWaiting(0))
    assert PlayChime() in c.handle(PatientsWaiting(1))  # the first to arrive
    assert PlayChime() not in c.handle(PatientsWaiting(2))  # someone waits already
    c.handle(PatientsWaiting(0))
    c.handle(ButtonPressed(1))
    assert PlayChime() not in c.handle(PatientsWaiting(1))  # busy joining: no chime
    quiet = enrolled()  # the default: no chime
    quiet.handle(PatientsWaiting(0))
    assert PlayChime() not in quiet.handle(PatientsWaiting(1))
