"""Where things go on a screen of any size: the grid of participants, captions, the self
view. Pure arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


@dataclass(frozen=True, slots=True)
class Tile:
    video: Rect
    caption: Rect


def even(n: float) -> int:
    """A size rounded down to an even number of pixels (4:2:0 pictures scale cleanly)."""
    return max(2, int(n) // 2 * 2)


def at(n: float) -> int:
    """A position rounded down to an even pixel."""
    return max(0, int(n) // 2 * 2)


def grid_shape(count: int) -> tuple[int, int]:
    """Columns and rows for ``count`` tiles: 1, 2 side by side, 2x2, 3x2..."""
    if count <= 0:
        return 0, 0
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    return columns, rows


def grid(count: int, area: Rect, gap: int, caption_height: int) -> list[Tile]:
    """``count`` equal tiles filling ``area`` row by row; the last row centred."""
    columns, rows = grid_shape(count)
    if count == 0:
        return []
    width = even((area.width - gap * (columns - 1)) / columns)
    height = even((area.height - gap * (rows - 1)) / rows)
    tiles = []
    for index in range(count):
        row, column = divmod(index, columns)
        in_row = min(columns, count - row * columns)
        left = area.x + (area.width - in_row * width - (in_row - 1) * gap) // 2
        x = at(left + column * (width + gap))
        y = at(area.y + row * (height + gap))
        video = Rect(x, y, width, even(height - caption_height))
        tiles.append(Tile(video, Rect(x, video.bottom, width, height - video.height)))
    return tiles


def fit(width: int, height: int, box: Rect) -> Rect:
    """The largest ``width`` x ``height`` picture inside ``box``, centred (letterboxed)."""
    scale = min(box.width / width, box.height / height)
    w, h = even(width * scale), even(height * scale)
    return Rect(at(box.x + (box.width - w) / 2), at(box.y + (box.height - h) / 2), w, h)


def corner(screen: Rect, fraction: float, margin: int, aspect: float = 16 / 9) -> Rect:
    """A small picture in the bottom-right corner (the box's own)."""
    width = even(screen.width * fraction)
    height = even(width / aspect)
    return Rect(
        at(screen.right - margin - width), at(screen.bottom - margin - height), width, height
    )
