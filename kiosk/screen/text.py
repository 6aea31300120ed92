"""Words on the screen: drawn once by Pillow (DejaVu, from the OS's fonts-dejavu-core),
kept as alpha masks, blended into the canvas by numpy."""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import ImageFont

    from hal.interfaces import Canvas

    Mask = npt.NDArray[np.uint8]
else:
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
ELLIPSIS = "…"


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        log.warning("%s is missing (apt install fonts-dejavu-core); using Pillow's font", path)
        try:
            return ImageFont.load_default(size)
        except TypeError:  # Pillow < 10.1: one small bitmap font
            return ImageFont.load_default()


def shorten(text: str, size: int, bold: bool, max_width: int) -> str:
    """``text``, cut at the end with an ellipsis to fit ``max_width`` pixels (0: no limit)."""
    face = font(size, bold)
    if max_width <= 0 or face.getlength(text) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if face.getlength(text[:middle] + ELLIPSIS) <= max_width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


class Glyphs:
    """Rendered texts, most recently used kept."""

    def __init__(self, capacity: int = 256) -> None:
        self._cache: OrderedDict[tuple[str, int, bool, int], Mask] = OrderedDict()
        self._capacity = capacity
        self.rendered = 0  # texts drawn by Pillow (the rest came from the cache)

    def mask(self, text: str, size: int, bold: bool = False, max_width: int = 0) -> Mask:
        key = (text, size, bold, max_width)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        from PIL import Image, ImageDraw

        shown = shorten(text, size, bold, max_width)
        face = font(size, bold)
        width = max(1, int(face.getlength(shown)) + 2)
        image = Image.new("L", (width, max(1, round(size * 1.25))))
        ImageDraw.Draw(image).text((0, 0), shown, font=face, fill=255)
        mask: Mask = np.asarray(image, dtype=np.uint8)
        self.rendered += 1
        self._cache[key] = mask
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return mask


def blend(canvas: Canvas, mask: Mask, x: int, y: int, bgr: tuple[int, int, int]) -> None:
    """Paint ``bgr`` through ``mask`` at (x, y), clipped to the canvas."""
    height, width = canvas.shape[:2]
    left, top = max(0, x), max(0, y)
    right, bottom = min(width, x + mask.shape[1]), min(height, y + mask.shape[0])
    if right <= left or bottom <= top:
        return
    alpha = mask[top - y : bottom - y, left - x : right - x, None].astype(np.uint16)
    region = canvas[top:bottom, left:right, :3]
    colour = np.array(bgr, dtype=np.uint16)
    region[:] = ((region * (255 - alpha) + colour * alpha + 127) // 255).astype(np.uint8)
