"""The thread that draws the screen: fed each decoded picture straight from the call, and
each new scene from the daemon's loop.

A picture or a new scene is drawn into the canvas as soon as it comes (a short piece of
work, which a busy core lets in quickly, where drawing six at once waited for the core
several times over). The canvas goes to the screen as soon as the screen can take a frame
without waiting for the one before (a page flip lights one frame a refresh) and at most
once an ``interval_s``: the pictures of five participants at 30 fps, 150 a second, are
shown in 30 frames, each as soon after it came as the screen allows. Nothing in here runs
on the event loop, whose lag under a busy call would otherwise add to every picture's way
to the screen.

Where the screen has frames of its own (KMS's framebuffers), each is drawn into in turn
and shown as it is, with no copy of the whole screen a frame: each frame is brought up to
date with what the others showed since it was last drawn into, from pictures scaled once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import av

from hal import Display, HalError
from hal.interfaces import DisplayMode
from kiosk.screen.compose import Composer, Scaled
from kiosk.screen.scene import SELF, Scene

if TYPE_CHECKING:
    from hal.interfaces import Canvas

log = logging.getLogger(__name__)

FAILED_PAUSE_S = 1.0  # after a drawing bug: not a log line per frame


class Painter:
    def __init__(self, display: Display, mode: DisplayMode, interval_s: float) -> None:
        self.display = display
        self._composers = self._composers_for(mode)  # one a frame of the screen's own
        self._front = 0  # shown last (of the screen's own frames, the first at the start)
        self._back = self._after(self._front)  # drawn into next
        self.interval_s = interval_s
        self.composed = 0  # times the compose path ran
        self.shown = 0  # frames put on the screen
        # seconds from a participant's picture decoded to its frame on the screen
        self.latencies: deque[float] = deque(maxlen=3000)
        self._wake = threading.Condition()
        self._scene: Scene | None = None
        self._scene_new = False
        self._latest: dict[str, tuple[av.VideoFrame, float]] = {}  # key -> picture, arrived
        self._new_pictures = False  # pictures came that are not drawn yet
        self._version = 0  # counts what came: scenes and pictures
        self._drawn = -1  # the version drawn last
        self._on_screen = -1  # the version the screen shows
        # the picture of each tile on the screen, and when it came
        self._on_screen_pictures: dict[str, tuple[av.VideoFrame, float]] = {}
        self._handed_at = -1e9  # when the screen was last handed a frame (or refused it)
        self._unshown: dict[str, float] = {}  # pictures drawn, not yet shown: when they came
        self._stopping = False
        self._failure: str | None = None
        self.drawing = threading.Lock()  # held while the canvas changes
        self._thread = threading.Thread(target=self._run, name="screen", daemon=True)
        self._thread.start()

    def _composers_for(self, mode: DisplayMode) -> list[Composer]:
        scaled = Scaled()
        frames = [
            frame for frame in self.display.buffers()
            if frame.shape == (mode.height, mode.width, 4)
        ]  # fmt: skip
        if len(frames) >= 3:
            return [Composer(mode, frame, scaled) for frame in frames]
        return [Composer(mode, None, scaled)]  # the screen copies what it is shown

    def _after(self, index: int) -> int:
        return (index + 1) % len(self._composers)

    @property
    def composer(self) -> Composer:
        """The one drawing into the frame the screen shows next."""
        return self._composers[self._back]

    @property
    def mode(self) -> DisplayMode:
        return self.composer.mode

    def scene(self, scene: Scene) -> None:
        """Draw this scene next (from any thread)."""
        with self._wake:
            self._scene, self._scene_new = scene, True
            self._version += 1
            self._wake.notify()

    def picture(self, key: str, frame: av.VideoFrame, arrived: float) -> None:
        """A new picture for the tile ``key`` (from any thread)."""
        with self._wake:
            self._latest[key] = (frame, arrived)
            self._version += 1
            if not self._new_pictures:
                self._new_pictures = True
                self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _due(self) -> float:
        """When the screen may be handed the canvas next."""
        return max(self.display.free_at(), self._handed_at + self.interval_s)

    def _next(self) -> tuple[Scene, dict[str, tuple[av.VideoFrame, float]], int] | None:
        """Waits for a new scene, a new picture, or the screen's turn for what was drawn;
        the scene, the latest pictures and the version they are. None to stop."""
        with self._wake:
            while True:
                if self._stopping:
                    return None
                if self._scene is not None:
                    if self._scene_new or self._new_pictures:
                        break
                    if self._drawn != self._on_screen:
                        wait = self._due() - time.monotonic()
                        if wait <= 0:
                            break
                        self._wake.wait(wait)
                        continue
                self._wake.wait()
            scene = self._scene
            self._scene_new = self._new_pictures = False
            on_screen = {p.key for p in scene.pictures}
            for key in [k for k in self._latest if k not in on_screen]:
                del self._latest[key]  # a picture nobody shows is not kept
            return scene, dict(self._latest), self._version

    def _run(self) -> None:
        while (work := self._next()) is not None:
            try:
                self._draw(*work)
            except Exception:  # a bug drawing must not take the box's calls down
                log.exception("screen: drawing failed; drawn again from nothing")
                with self.drawing:
                    self._composers = self._composers_for(self.mode)
                    self._back = self._after(self._front)
                    self._on_screen, self._on_screen_pictures = -1, {}
                    self._unshown.clear()
                with self._wake:
                    self._scene_new = True
                    self._wake.wait(FAILED_PAUSE_S)

    def _draw(
        self, scene: Scene, pictures: dict[str, tuple[av.VideoFrame, float]], version: int
    ) -> None:
        with self.drawing:
            self.composed += 1
            composer = self.composer
            frames = {k: f for k, (f, _) in pictures.items()}
            several = len(self._composers) > 1
            # Into one of the screen's own frames, the pictures not on the screen yet: the
            # tiles whose picture this frame lacks but the screen shows are drawn just
            # before it is shown, as a newer picture may come for them first.
            shown = self._on_screen_pictures
            new = {k for k, f in frames.items() if k not in shown or f is not shown[k][0]}
            composer.compose(scene, frames, new if several else None)
            self._drawn = version
            self._note_unshown(composer, pictures)
            if version == self._on_screen or time.monotonic() < self._due():
                return
            if several:
                composer.compose(scene, frames)
                self._note_unshown(composer, pictures)
            self._handed_at = time.monotonic()
            try:
                self.display.show(composer.canvas)
            except HalError as exc:
                if str(exc) != self._failure:
                    log.warning("screen: %s", exc)
                    self._failure = str(exc)
                if several:  # its frames may go when it is opened again
                    self._composers = [Composer(self.mode, None, composer.scaled)]
                    self._back = self._front = 0
                    self._on_screen, self._on_screen_pictures = -1, {}
                return
            self._on_screen, self._on_screen_pictures = version, pictures
            self._front, self._back = self._back, self._after(self._back)
            unshown, self._unshown = self._unshown, {}
        self._failure = None
        self.shown += 1
        done = time.monotonic()
        self.latencies.extend(done - arrived for arrived in unshown.values())

    def _note_unshown(
        self, composer: Composer, pictures: dict[str, tuple[av.VideoFrame, float]]
    ) -> None:
        for key in composer.last_drawn:
            arrived = pictures[key][1]
            # the box's own camera is not a decoded picture, and a picture drawn again
            # into another frame of the screen was on the screen already
            shown = self._on_screen_pictures.get(key)
            if key != SELF and (shown is None or arrived != shown[1]):
                self._unshown[key] = arrived

    def canvas_copy(self) -> Canvas:
        """What the screen shows now (never half drawn)."""
        with self.drawing:
            return self._composers[self._front].canvas.copy()
