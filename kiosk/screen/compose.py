"""Draws scenes into a canvas the size of the screen. Words and rectangles are drawn
again only when the scene changes; a participant's picture only when a new one came,
scaled and converted by swscale (PyAV's reformatter) to the screen's format once, however
many of the screen's frames it is drawn into."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import TYPE_CHECKING

import av
from av.video.reformatter import Interpolation, VideoReformatter

from hal.interfaces import DisplayMode
from hal.lazy import lazy_module
from kiosk.screen.layout import Rect, fit
from kiosk.screen.scene import TILE, Colour, Fill, Label, Scene
from kiosk.screen.text import Glyphs, blend

if TYPE_CHECKING:
    import numpy as np

    from hal.interfaces import Canvas
else:
    np = lazy_module("numpy")


def bgrx(colour: Colour) -> tuple[int, int, int, int]:
    red, green, blue = colour
    return blue, green, red, 255


class Scaled:
    """Each tile's latest picture at its place's size, in the screen's format: made once
    for all the canvases it is drawn into."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[av.VideoFrame, Rect, av.VideoFrame]] = {}
        self._reformatters: dict[str, tuple[VideoReformatter, VideoReformatter]] = {}
        self.made = 0

    def get(self, key: str, frame: av.VideoFrame, place: Rect) -> av.VideoFrame:
        made = self._made.get(key)
        if made is not None and made[0] is frame and made[1] == place:
            return made[2]
        scaler, converter = self._reformatters.setdefault(
            key, (VideoReformatter(), VideoReformatter())
        )
        # Scaled in the picture's own format (4:2:0: 1.5 bytes a pixel, not 4), then
        # converted at its new size by swscale's unscaled yuv -> rgb path: a 640x480
        # picture into its tile of five, scaled and drawn, 0.46 ms against 0.61 in one step
        # (the box with the screen 5 % less CPU in all, both ways measured in one run).
        # On this thread: swscale's own threads (its default, one a core) cost more than
        # they save on so small a picture, and their slices' edges differed run to run.
        small = scaler.reformat(
            frame,
            width=place.width,
            height=place.height,
            interpolation=Interpolation.FAST_BILINEAR,
            threads=1,
        )
        scaled = converter.reformat(small, format="bgra", threads=1)
        self._made[key] = (frame, place, scaled)
        self.made += 1
        return scaled

    def keep(self, keys: set[str]) -> None:
        """Forget the tiles not in ``keys``."""
        for key in set(self._reformatters) - keys:
            del self._reformatters[key]
            self._made.pop(key, None)


class Composer:
    def __init__(
        self, mode: DisplayMode, canvas: Canvas | None = None, scaled: Scaled | None = None
    ) -> None:
        """Draws into ``canvas`` (one of the screen's own frames), else a canvas of its
        own; ``scaled`` is shared by the composers of one screen's frames."""
        self.mode = mode
        if canvas is None:
            canvas = np.zeros((mode.height, mode.width, 4), dtype=np.uint8)
        self.canvas: Canvas = canvas
        self.glyphs = Glyphs()
        self._items: tuple[object, ...] | None = None
        self._drawn: dict[str, tuple[av.VideoFrame, Rect]] = {}
        self.scaled = scaled if scaled is not None else Scaled()
        self.pictures_drawn = 0
        self.last_drawn: list[str] = []  # the pictures the last compose drew
        self._painted: dict[int, Rect] = {}  # where each label (by its index) was drawn
        self.full_redraws = 0

    def compose(
        self,
        scene: Scene,
        frames: Mapping[str, av.VideoFrame],
        only: Container[str] | None = None,
    ) -> bool:
        """Bring the canvas up to ``scene`` and ``frames`` (peer id -> latest picture);
        whether anything changed. With ``only``, of the pictures this canvas lacks just
        those are drawn (and any a picture drawn now covers): the rest wait."""
        changed = False
        self.last_drawn = []
        if scene.items != self._items:
            if not self._relabel(scene):
                self.full_redraws += 1
                self._painted.clear()
                for index, item in enumerate(scene.items):
                    self._draw(index, item)
                self._drawn.clear()
            self._items = scene.items
            changed = True
        covered: list[Rect] = []  # drawn now: a later picture over them (the self view) again
        for picture in scene.pictures:
            frame = frames.get(picture.key)
            if frame is None:
                continue
            drawn = self._drawn.get(picture.key)
            if not any(_overlap(picture.rect, rect) for rect in covered) and (
                (drawn is not None and drawn[0] is frame and drawn[1] == picture.rect)
                or (only is not None and picture.key not in only)
            ):
                continue
            self._picture(picture.key, frame, picture.rect, drawn)
            self._drawn[picture.key] = (frame, picture.rect)
            self.last_drawn.append(picture.key)
            covered.append(picture.rect)
            changed = True
        self.scaled.keep({p.key for p in scene.pictures})
        return changed

    def _relabel(self, scene: Scene) -> bool:
        """Where only words changed (a call's duration, a badge), erase and draw just
        those; False when anything else changed (then everything is drawn again)."""
        old = self._items
        if old is None or len(old) != len(scene.items):
            return False
        changed = [i for i, (a, b) in enumerate(zip(old, scene.items, strict=True)) if a != b]
        if not all(isinstance(scene.items[i], Label) and isinstance(old[i], Label)
                   for i in changed):  # fmt: skip
            return False
        for index in changed:
            label = scene.items[index]
            assert isinstance(label, Label)
            backdrop = next(
                (item.colour for item in reversed(scene.items[:index])
                 if isinstance(item, Fill) and _inside(label.x, label.y, item.rect)),
                None,
            )  # fmt: skip
            painted = self._painted.get(index)
            if backdrop is None:
                return False
            if painted is not None and any(
                _overlap(painted, other) for i, other in self._painted.items() if i != index
            ):
                return False  # erasing it would take a neighbour's letters too
            self._painted.pop(index, None)
            if painted is not None:
                self.canvas[painted.y : painted.bottom, painted.x : painted.right] = bgrx(backdrop)
                for key, (_, rect) in list(self._drawn.items()):
                    if _overlap(rect, painted):
                        del self._drawn[key]  # drawn again below
            self._draw(index, label)
        return True

    def _draw(self, index: int, item: object) -> None:
        match item:
            case Fill(rect, colour):
                self.canvas[rect.y : rect.bottom, rect.x : rect.right] = bgrx(colour)
            case Label(text, x, y, size, colour, anchor, bold, max_width):
                if not text:
                    return
                mask = self.glyphs.mask(text, size, bold, max_width)
                if anchor == "centre":
                    x -= mask.shape[1] // 2
                elif anchor == "right":
                    x -= mask.shape[1]
                blend(self.canvas, mask, x, y, bgrx(colour)[:3])
                height, width = self.canvas.shape[:2]
                left, top = max(0, x), max(0, y)
                right, bottom = min(width, x + mask.shape[1]), min(height, y + mask.shape[0])
                self._painted[index] = Rect(left, top, max(0, right - left), max(0, bottom - top))

    def _picture(
        self, key: str, frame: av.VideoFrame, box: Rect, drawn: tuple[av.VideoFrame, Rect] | None
    ) -> None:
        place = fit(frame.width, frame.height, box)
        if drawn is None or drawn[1] != box or fit(drawn[0].width, drawn[0].height, box) != place:
            # the bars beside a letterboxed picture
            self.canvas[box.y : box.bottom, box.x : box.right] = bgrx(TILE)
        scaled = self.scaled.get(key, frame, place)
        # straight from the scaled picture's memory (rows may be padded): one copy
        plane = scaled.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(place.height, plane.line_size)  # type: ignore[call-overload]
        self.canvas[place.y : place.bottom, place.x : place.right] = rows[
            :, : place.width * 4
        ].reshape(place.height, place.width, 4)
        self.pictures_drawn += 1


def _inside(x: int, y: int, rect: Rect) -> bool:
    return rect.x <= x < rect.right and rect.y <= y < rect.bottom


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom
