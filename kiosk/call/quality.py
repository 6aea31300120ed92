"""Resolution and frame rate for what the link carries.

When the encoder cannot meet its bitrate at the camera's size (a busy picture, a thin
uplink), it sends fewer pixels, then fewer frames, rather than a picture that freezes;
and climbs back when the step above is predicted to fit. That is judged once the target
has held for a second (just after a cut, what was sent is still what the old target
asked for, not the encoder failing the new one), and only an overshoot that lasts a
second counts: a step's cost, once seen, decides whether it is ever climbed to again.
Audio is not touched: its 32 kbit/s always fit.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_FPS = 10
HOLD_S = 2.0  # between any two changes: each one is a keyframe
UP_HOLD_S = 1.0  # the step above must be predicted to fit this long
SETTLE_S = 1.0  # what was sent over the last second, once the target has held that long
OVER_HOLD_S = 1.0  # and over it that long: not a keyframe or two
OVER = 1.2  # sent above 120 % of the target for a second: this step is too rich
FAR_OVER = 2.0
UP_MARGIN = 0.9  # the step above predicted under 90 % of where it would step down: climb


@dataclass(frozen=True, slots=True)
class Step:
    scale: int  # width and height divided by this
    fps_divisor: int


STEPS = (Step(1, 1), Step(2, 1), Step(2, 2), Step(4, 2))


class QualityLadder:
    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.index = 0
        self._changed_at = float("-inf")
        self._fits_since: float | None = None
        self._over_since: float | None = None
        self._cost_seen: dict[int, float] = {}  # step -> bits/s it was seen to need
        self._target: int | None = None
        self._target_since = float("-inf")

    def size(self, index: int | None = None) -> tuple[int, int]:
        scale = STEPS[self.index if index is None else index].scale
        # even sizes for yuv420p, and never below a block or two
        return max(32, self.width // scale // 2 * 2), max(32, self.height // scale // 2 * 2)

    def frame_rate(self, index: int | None = None) -> int:
        divisor = STEPS[self.index if index is None else index].fps_divisor
        return max(min(MIN_FPS, self.fps), self.fps // divisor)

    @property
    def full(self) -> bool:
        """At the configured size and rate."""
        return self.index == 0

    @property
    def lowest(self) -> bool:
        return self.index == len(STEPS) - 1

    def _cost(self, index: int) -> float:
        w, h = self.size(index)
        return w * h * self.frame_rate(index)

    def update(self, now: float, target: int, sent: float, starved: bool = False) -> bool:
        """Move a step if the link asks for it; True when the step changed. ``starved``:
        the bitrate is at its floor and the link still wants less, so a smaller picture
        at the same bits looks better than a mushy big one, and nothing climbs."""
        if target != self._target:
            if self._target is not None:  # the rate it started at is settled from the start
                self._target_since = now
            self._target = target
        if now - self._changed_at < HOLD_S or sent <= 0:
            return False
        if starved:
            return not self.lowest and self._move(1, now)
        settled = now - self._target_since >= SETTLE_S
        if sent <= OVER * target or not settled or self.lowest:
            self._over_since = None
        elif self._over_since is None:
            self._over_since = now
        elif now - self._over_since >= OVER_HOLD_S:
            self._cost_seen[self.index] = sent
            # far over (a link that just got thin): two steps, so that the keyframe of
            # the new size is small enough to get through at all
            steps = 2 if sent > FAR_OVER * target else 1
            return self._move(min(steps, len(STEPS) - 1 - self.index), now)
        if self._over_since is None and self.index > 0:
            if self._predicted(self.index - 1, sent) < UP_MARGIN * OVER * target:
                if self._fits_since is None:
                    self._fits_since = now
                elif now - self._fits_since >= UP_HOLD_S:
                    return self._move(-1, now)
            else:
                self._fits_since = None
        return False

    def _predicted(self, index: int, sent: float) -> float:
        """What step ``index`` would send: as last seen there, else scaled from now."""
        if index in self._cost_seen:
            return self._cost_seen[index]
        # measured here: an encoder's rate grows about as the square root of the pixels a
        # second it is given (4x the pixels, about 2x the bits)
        return float(sent * (self._cost(index) / self._cost(self.index)) ** 0.5)

    def _move(self, by: int, now: float) -> bool:
        self.index += by
        self._changed_at = now
        self._fits_since = self._over_since = None
        return True
