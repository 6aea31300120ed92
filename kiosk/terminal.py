"""The tester's console: keys 1-9 press buttons, one status line shows the LEDs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import termios
import tty
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from hal import LedKind, LedMode
from kiosk.controller import Action, ButtonAction
from kiosk.daemon import Daemon
from kiosk.logs import StatusLineHandler

log = logging.getLogger(__name__)

_GLYPH = {LedKind.OFF: "○", LedKind.ON: "●", LedKind.BLINK: "◐", LedKind.PULSE: "◌"}
_COLOUR = {"ready": "32", "call": "32", "mute": "31", "camera": "31", "error": "31",
           "patient": "36"}  # fmt: skip


_DOING = {
    Action.LEAVE: "leave", Action.TOGGLE_MUTE: "mute", Action.TOGGLE_CAMERA: "camera",
    Action.ANSWER_NEXT_PATIENT: "next patient",
}  # fmt: skip


def legend(buttons: Mapping[int, ButtonAction], names: Mapping[str, str] | None = None) -> str:
    """What each key does, from the admin's button config: "1 join Meeting room 1 · 3
    leave" (rooms by name where the clinic said it, else by id)."""
    if not buttons:
        return "keys 1-9 press buttons (none assigned yet)"
    names = names or {}
    said = [
        f"{n} join {names.get(b.room_id or '', b.room_id)}"
        if b.action is Action.JOIN
        else f"{n} {_DOING[b.action]}"
        for n, b in sorted(buttons.items())
    ]
    return " · ".join(said)


def render(
    state: str,
    leds: Mapping[str, LedMode],
    room_id: str | None = None,
    waiting: int | None = None,
    buttons: Mapping[int, ButtonAction] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    parts = []
    for name, mode in leds.items():
        glyph = _GLYPH[mode.kind]
        if mode.kind is not LedKind.OFF:
            glyph = f"\x1b[{_COLOUR.get(name, '33')}m{glyph}\x1b[0m"
        parts.append(f"{glyph} {name}")
    where = f" in {(names or {}).get(room_id, room_id)}" if room_id else ""
    queue = f" | {waiting} waiting" if waiting else ""
    keys = legend(buttons or {}, names)
    return "  ".join(parts) + f"  | {state}{where}{queue} | {keys} | Ctrl-C quits"


class Console:
    """Puts the terminal in cbreak mode while the daemon runs, and restores it."""

    def __init__(self, daemon: Daemon, status: StatusLineHandler) -> None:
        self._daemon = daemon
        self._status = status
        self._fd = sys.stdin.fileno()
        self._saved: list[Any] | None = None
        self._presses: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Console:
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)  # keys arrive one by one; Ctrl-C still sends SIGINT
        asyncio.get_running_loop().add_reader(self._fd, self._on_input)
        self._daemon.observe(self._redraw)
        self._redraw()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        for task in self._presses:
            task.cancel()
        # presses release their pin in `finally`; wait so no pin stays held
        await asyncio.gather(*self._presses, return_exceptions=True)
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        self._status.clear()

    def _on_input(self) -> None:
        with contextlib.suppress(BlockingIOError):
            data = os.read(self._fd, 64)
            for char in data.decode(errors="ignore"):
                if char.isdigit() and char != "0":
                    self._press(int(char))

    def _press(self, number: int) -> None:
        if number not in self._daemon.hal.buttons.numbers:
            log.info("no button %d on this box", number)
            return
        task = asyncio.create_task(self._daemon.hal.buttons.press(number))
        self._presses.add(task)
        task.add_done_callback(self._presses.discard)

    def _redraw(self) -> None:
        c = self._daemon.controller
        self._status.set_status(
            render(
                c.state.value,
                self._daemon.hal.leds.state(),
                c.room_id,
                c.waiting,
                c.buttons,
                self._daemon.engine.names(),
            )
        )
