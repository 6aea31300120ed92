"""The README's pictures of the screen are what the box draws: each is composed here and
compared with the stored PNG (``UPDATE_SCREEN_PICTURES=1`` writes them anew)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from hal import DisplayMode
from kiosk.screen.compose import Composer
from kiosk.screen.driver import ENROLL_HINT
from kiosk.screen.scene import SELF, scene
from kiosk.screen.view import Connection, Participant, Video, View

PICTURES = Path(__file__).resolve().parent.parent / "screens"
WIDTH, HEIGHT = 1280, 720

BUTTONS = ("1   Join Meeting room 1", "2   Join Dr Grey's room", "3   Leave the call",
           "4   Mute or unmute", "6   Answer the next patient")  # fmt: skip
PEOPLE = (
    Participant("a", "Dr Grey", muted=False, video=Video.LIVE),
    Participant("b", "Sam (patient)", muted=True, video=Video.LIVE),
    Participant("c", "Interpreter", muted=False, video=Video.PAUSED),
)
VIEWS = {
    "idle": View("idle", box_name="Exam room 2", connection=Connection.CLOUD, clock="10:30",
                 buttons=BUTTONS, waiting=2),
    "idle-lan": View("idle", box_name="Exam room 2", connection=Connection.LOCAL,
                     clock="10:31", buttons=BUTTONS),
    "joining": View("joining", room="Meeting room 1"),
    "error": View("error", problem="the clinic is unreachable"),
    "call": View("in_call", room="Meeting room 1", participants=PEOPLE, duration="12:05",
                 muted=True),
    "not-enrolled": View("not_enrolled", serial="10000000a3c5e1f2", enroll_hint=ENROLL_HINT),
    "identify": View("idle", box_name="Exam room 2", identify=True),
}  # fmt: skip


def picture(rgb: tuple[int, int, int], width: int = 640, height: int = 480) -> av.VideoFrame:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    shade = (120 + 100 * np.sin(x / 40.0) * np.cos(y / 50.0)).astype(np.uint8)
    for channel, level in enumerate(rgb):
        pixels[..., channel] = (shade.astype(np.uint16) * level // 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


FRAMES = {"a": picture((120, 170, 255)), "b": picture((255, 190, 120)),
          SELF: picture((150, 255, 150), 1280, 720)}  # fmt: skip


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_the_readme_pictures_are_what_the_box_draws(name: str) -> None:
    composer = Composer(DisplayMode(WIDTH, HEIGHT, 30))
    composer.compose(scene(VIEWS[name], WIDTH, HEIGHT), FRAMES)
    drawn = composer.canvas[..., 2::-1]
    stored = PICTURES / f"{name}.png"
    if os.environ.get("UPDATE_SCREEN_PICTURES") == "1":
        PICTURES.mkdir(exist_ok=True)
        Image.fromarray(drawn.copy()).save(stored, optimize=True)
    kept = np.asarray(Image.open(stored).convert("RGB"))
    # text may be drawn a little differently by another FreeType: near enough, not exact
    difference = np.abs(kept.astype(int) - drawn.astype(int))
    assert difference.mean() < 1.5, f"{stored} is stale: UPDATE_SCREEN_PICTURES=1 to redraw"
