"""A tester at a terminal: keys press buttons, one line shows the LEDs."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from hal import ON, pulse
from kiosk.controller import Action, ButtonAction
from kiosk.terminal import render


def take_terminal() -> None:
    """In the child: a session of its own with the pty as controlling terminal, so that
    Ctrl-C typed on it is a SIGINT, as in a real terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def read_until(fd: int, needle: str, timeout: float = 15) -> str:
    """What the terminal showed, colours stripped, up to and including ``needle``."""
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{needle!r} not seen in:\n{seen}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                seen += ANSI.sub("", os.read(fd, 4096).decode(errors="replace"))
            except OSError:  # the child closed the terminal
                break
    return seen


def kiosk_at_a_terminal(state_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`kiosk run` on a fresh pty; the process and the terminal's master side."""
    main, child = pty.openpty()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")},
        "KIOSK_CONFIG": os.devnull,
        "KIOSK_STATE_DIR": str(state_dir),
        "KIOSK_ENROLLMENT_FILE": str(state_dir / "none"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "run"],
        stdin=child, stdout=child, stderr=child, env=env, preexec_fn=take_terminal,
    )  # fmt: skip
    os.close(child)
    return proc, main


def test_keys_press_buttons_and_the_status_line_shows_leds(tmp_path: Path) -> None:
    proc, main = kiosk_at_a_terminal(tmp_path)
    try:
        first = read_until(main, "| not_enrolled")
        assert "◌ ready" in first  # pulsing: not enrolled
        os.write(main, b"1")
        pressed = read_until(main, "press ignored: button 1 has no action")
        after = read_until(main, "◐ error")  # the error LED blinks: the press did nothing
        assert "| not_enrolled" in pressed + after
        os.write(main, b"\x03")  # Ctrl-C from the keyboard
        assert proc.wait(timeout=10) == 0
        rest = read_until(main, "stopped")
        assert "stopping" in pressed + after + rest
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        os.close(main)


@pytest.mark.parametrize("key", [b"0", b"x", b"9"])
def test_keys_without_a_button_are_harmless(tmp_path: Path, key: bytes) -> None:
    proc, main = kiosk_at_a_terminal(tmp_path)
    try:
        read_until(main, "| not_enrolled")
        os.write(main, key + b"\x03")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)


def test_the_status_line_names_the_room_the_queue_and_what_each_key_does() -> None:
    buttons = {
        1: ButtonAction(Action.JOIN, "rm_meeting_1"),
        3: ButtonAction(Action.LEAVE),
        6: ButtonAction(Action.ANSWER_NEXT_PATIENT),
    }
    leds = {"ready": ON, "patient": pulse(1)}
    line = ANSI.sub("", render("in_call", leds, "rm_meeting_1", 2, buttons))
    assert "| in_call in rm_meeting_1 | 2 waiting |" in line
    assert "1 join rm_meeting_1 · 3 leave · 6 next patient" in line
    idle = ANSI.sub("", render("idle", leds, None, 0, {}))
    assert "| idle | keys 1-9 press buttons (none assigned yet) |" in idle
    named = ANSI.sub("", render("in_call", leds, "rm_meeting_1", 0, buttons,
                                {"rm_meeting_1": "Meeting room 1"}))  # fmt: skip
    assert "| in_call in Meeting room 1 |" in named  # as the clinic named it
    assert "1 join Meeting room 1 · 3 leave" in named
