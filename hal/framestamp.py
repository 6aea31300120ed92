"""A machine-readable strip in the top rows of a frame: frame number and capture time.

The fake camera writes it; any receiver (a test, the kiosk, a browser page) reads it back
from the decoded picture to measure end-to-end latency and count lost frames. Each bit is
a 16x16 luma block (one H.264 macroblock), so it survives lossy coding at any sane bitrate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hal.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = lazy_module("numpy")


BLOCK = 16
_BLACK, _WHITE = 16, 235
_BITS = 32 + 48 + 8  # frame number, capture time in ms since the epoch, checksum


@dataclass(frozen=True, slots=True)
class Stamp:
    frame_number: int
    capture_time_ms: int


def strip_height(width: int) -> int:
    """Rows the strip occupies in a frame ``width`` pixels wide."""
    per_row = width // BLOCK
    if per_row == 0:
        raise ValueError(f"frame width {width} is narrower than one {BLOCK}-pixel block")
    return -(-_BITS // per_row) * BLOCK


def _checksum(body: bytes) -> int:
    # offset so that an all-black picture is not read as a valid stamp of zeros
    return (sum(body) + 0xA5) & 0xFF


def _payload(stamp: Stamp) -> bytes:
    body = (stamp.frame_number & 0xFFFFFFFF).to_bytes(4, "big") + (
        stamp.capture_time_ms & 0xFFFFFFFFFFFF
    ).to_bytes(6, "big")
    return body + bytes([_checksum(body)])


def write(luma: npt.NDArray[np.uint8], stamp: Stamp) -> None:
    """Draw ``stamp`` into the top rows of the luma plane ``luma`` (height x width)."""
    width = luma.shape[1]
    per_row = width // BLOCK
    bits = np.unpackbits(np.frombuffer(_payload(stamp), dtype=np.uint8))
    rows = strip_height(width) // BLOCK
    cells = np.zeros(rows * per_row, dtype=np.uint8)
    cells[: bits.size] = bits
    grid = np.where(cells.reshape(rows, per_row) == 1, _WHITE, _BLACK).astype(np.uint8)
    blocks = np.kron(grid, np.ones((BLOCK, BLOCK), dtype=np.uint8))
    luma[: blocks.shape[0], : blocks.shape[1]] = blocks
    luma[: blocks.shape[0], blocks.shape[1] :] = _BLACK


def read(luma: npt.NDArray[np.uint8]) -> Stamp | None:
    """The stamp in a decoded luma plane, or None if there is none or it is damaged."""
    height, width = luma.shape
    per_row = width // BLOCK
    if per_row == 0 or height < strip_height(width):
        return None
    rows = strip_height(width) // BLOCK
    inner = slice(BLOCK // 4, BLOCK - BLOCK // 4)
    region = luma[: rows * BLOCK, : per_row * BLOCK].astype(np.float32)
    cells = region.reshape(rows, BLOCK, per_row, BLOCK)[:, inner, :, inner].mean(axis=(1, 3))
    bits = (cells.reshape(-1)[:_BITS] > (_BLACK + _WHITE) / 2).astype(np.uint8)
    payload = np.packbits(bits).tobytes()
    if _checksum(payload[:10]) != payload[10]:
        return None
    return Stamp(int.from_bytes(payload[:4], "big"), int.from_bytes(payload[4:10], "big"))
