"""What to draw for a view, on a screen of a given size: rectangles, words and the places
of pictures. Pure: tested without a screen or a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kiosk.screen.layout import Rect, corner, grid
from kiosk.screen.view import Connection, Video, View

Colour = tuple[int, int, int]  # R, G, B

BACKGROUND: Colour = (24, 26, 30)
TILE: Colour = (44, 47, 54)
CAPTION: Colour = (16, 17, 20)
TEXT: Colour = (235, 235, 235)
QUIET: Colour = (160, 165, 172)
GOOD: Colour = (80, 200, 120)
WARN: Colour = (240, 180, 60)
BAD: Colour = (240, 90, 80)


@dataclass(frozen=True, slots=True)
class Fill:
    rect: Rect
    colour: Colour


@dataclass(frozen=True, slots=True)
class Label:
    text: str
    x: int
    y: int  # the top of the text
    size: int  # pixels
    colour: Colour = TEXT
    anchor: Literal["left", "centre", "right"] = "left"
    bold: bool = False
    max_width: int = 0  # 0: no limit; else cut with an ellipsis


@dataclass(frozen=True, slots=True)
class Picture:
    key: str  # a participant's peer id, or SELF
    rect: Rect  # the picture is fitted inside, letterboxed


SELF = "self"

Item = Fill | Label


@dataclass(frozen=True, slots=True)
class Scene:
    items: tuple[Item, ...]  # drawn in order, before the pictures
    pictures: tuple[Picture, ...] = ()


_CONNECTION: dict[Connection, tuple[str, Colour]] = {
    Connection.CLOUD: ("Connected to the clinic", GOOD),
    Connection.LOCAL: ("Clinic unreachable: calls go over the local network", WARN),
    Connection.UNREACHABLE: ("Clinic unreachable", BAD),
}


def scene(view: View, width: int, height: int) -> Scene:
    s = height / 720
    screen = Rect(0, 0, width, height)
    if view.identify:
        return _centred(screen, s, [(view.box_name or "This box", 96, TEXT, True)])
    match view.state:
        case "not_enrolled":
            return _not_enrolled(view, screen, s)
        case "in_call":
            return _in_call(view, screen, s)
        case "joining":
            return _centred(screen, s, [(f"Joining {view.room or 'the call'}...", 48, TEXT, True)])
        case "leaving":
            return _centred(screen, s, [(f"Leaving {view.room or 'the call'}...", 48, TEXT, True)])
        case "error":
            lines = [("Could not join", 48, BAD, True)]
            if view.problem:
                lines.append((view.problem, 28, TEXT, False))
            return _centred(screen, s, lines)
        case _:
            return _idle(view, screen, s)


def _px(s: float, size: float) -> int:
    return max(8, round(size * s))


def _centred(screen: Rect, s: float, lines: list[tuple[str, int, Colour, bool]]) -> Scene:
    items: list[Item] = [Fill(screen, BACKGROUND)]
    total = sum(_px(s, size * 1.5) for _, size, _, _ in lines)
    y = (screen.height - total) // 2
    for text, size, colour, bold in lines:
        items.append(
            Label(
                text,
                screen.width // 2,
                y,
                _px(s, size),
                colour,
                "centre",
                bold,
                max_width=screen.width - _px(s, 80),
            )
        )
        y += _px(s, size * 1.5)
    return Scene(tuple(items))


def _idle(view: View, screen: Rect, s: float) -> Scene:
    margin = _px(s, 48)
    words, colour = _CONNECTION[view.connection]
    items: list[Item] = [
        Fill(screen, BACKGROUND),
        Label(
            view.box_name,
            margin,
            margin,
            _px(s, 56),
            TEXT,
            bold=True,
            max_width=screen.width - _px(s, 300),
        ),
        Label(words, margin, margin + _px(s, 80), _px(s, 28), colour),
        Label(view.clock, screen.width - margin, margin, _px(s, 56), TEXT, "right"),
    ]
    y = margin + _px(s, 170)
    if view.buttons:
        items.append(Label("Buttons", margin, y, _px(s, 24), QUIET))
        y += _px(s, 44)
        for line in view.buttons[:8]:
            items.append(Label(line, margin, y, _px(s, 32), TEXT))
            y += _px(s, 48)
    else:
        items.append(
            Label(
                "No buttons are set up yet (the clinic's admin page does that)",
                margin,
                y,
                _px(s, 28),
                QUIET,
            )
        )
    if view.waiting is not None:
        said = {0: "Nobody is waiting", 1: "1 patient is waiting"}.get(
            view.waiting, f"{view.waiting} patients are waiting"
        )
        items.append(
            Label(
                said,
                margin,
                screen.height - margin - _px(s, 40),
                _px(s, 36),
                WARN if view.waiting else QUIET,
                bold=bool(view.waiting),
            )
        )
    return Scene(tuple(items))


def _not_enrolled(view: View, screen: Rect, s: float) -> Scene:
    margin = _px(s, 64)
    items: list[Item] = [
        Fill(screen, BACKGROUND),
        Label("This box is not enrolled yet", margin, margin, _px(s, 52), TEXT, bold=True),
    ]
    y = margin + _px(s, 100)
    for line in view.enroll_hint:
        items.append(Label(line, margin, y, _px(s, 28), TEXT, max_width=screen.width - 2 * margin))
        y += _px(s, 46)
    if view.serial:
        items.append(
            Label(
                f"Serial number: {view.serial}",
                margin,
                screen.height - margin - _px(s, 36),
                _px(s, 30),
                QUIET,
            )
        )
    return Scene(tuple(items))


def _in_call(view: View, screen: Rect, s: float) -> Scene:
    bar = _px(s, 56)
    margin, gap, caption = _px(s, 16), _px(s, 12), _px(s, 40)
    flags = [word for word, on in (("Muted", view.muted), ("Camera off", view.camera_off)) if on]
    items: list[Item] = [
        Fill(screen, BACKGROUND),
        Label(
            view.room, margin, _px(s, 12), _px(s, 30), TEXT, bold=True, max_width=screen.width // 2
        ),
        Label(view.duration, screen.width - margin, _px(s, 12), _px(s, 30), TEXT, "right"),
    ]
    if flags:
        items.append(
            Label(
                "You: " + ", ".join(flags), screen.width // 2 + margin, _px(s, 16), _px(s, 24), WARN
            )
        )
    area = Rect(margin, bar, screen.width - 2 * margin, screen.height - bar - margin)
    pictures: list[Picture] = []
    if not view.participants:
        items.append(
            Label(
                "Waiting for others to join",
                screen.width // 2,
                screen.height // 2 - _px(s, 20),
                _px(s, 36),
                QUIET,
                "centre",
            )
        )
    for who, tile in zip(
        view.participants, grid(len(view.participants), area, gap, caption), strict=True
    ):
        items.append(Fill(tile.video, TILE))
        items.append(Fill(tile.caption, CAPTION))
        badges = []
        if who.muted:
            badges.append("Muted")
        if who.video is not Video.LIVE:
            badges.append("Camera off" if who.video is Video.OFF else "Video paused")
        text_y = tile.caption.y + (tile.caption.height - _px(s, 24)) // 2
        badge_text = " · ".join(badges)
        if badge_text:
            items.append(
                Label(
                    badge_text, tile.caption.right - margin // 2, text_y, _px(s, 22), WARN, "right"
                )
            )
        name_room = tile.caption.width - margin - (len(badge_text) * _px(s, 14) if badges else 0)
        items.append(
            Label(
                who.name or "Participant",
                tile.caption.x + margin // 2,
                text_y,
                _px(s, 24),
                TEXT,
                max_width=max(_px(s, 40), name_room),
            )
        )
        if who.video is Video.LIVE:
            pictures.append(Picture(who.key, tile.video))
        else:
            items.append(
                Label(
                    badges[-1],
                    tile.video.x + tile.video.width // 2,
                    tile.video.y + tile.video.height // 2 - _px(s, 16),
                    _px(s, 28),
                    QUIET,
                    "centre",
                )
            )
    if not view.camera_off:
        # above the captions of the bottom row, so no name or badge is hidden
        above = Rect(0, 0, screen.width, screen.height - caption - gap)
        pictures.append(Picture(SELF, corner(above, 0.16, margin)))
    return Scene(tuple(items), tuple(pictures))
