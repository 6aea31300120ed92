"""The screen's layout, scenes and drawing, without a screen or a call."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hal import DisplayMode
from kiosk.screen.compose import Composer, bgrx
from kiosk.screen.layout import Rect, fit, grid, grid_shape
from kiosk.screen.scene import BACKGROUND, SELF, Label, Picture, scene
from kiosk.screen.view import Connection, Participant, Video, View


def solid(rgb: tuple[int, int, int], width: int = 640, height: int = 480) -> av.VideoFrame:
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rgb
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


def words(drawn: object) -> list[str]:
    return [item.text for item in drawn.items if isinstance(item, Label)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("count", range(1, 7))
def test_tiles_fill_the_area_without_overlap_in_reading_order(count: int) -> None:
    area = Rect(16, 56, 1248, 648)
    tiles = grid(count, area, gap=12, caption_height=40)
    assert len(tiles) == count
    columns, rows = grid_shape(count)
    assert columns * rows >= count
    assert columns >= rows
    for tile in tiles:
        assert area.x <= tile.video.x
        assert tile.video.right <= area.right
        assert area.y <= tile.video.y
        assert tile.caption.bottom <= area.bottom
        assert tile.caption.y == tile.video.bottom
        assert tile.caption.width == tile.video.width
        assert tile.video.width % 2 == 0
        assert tile.video.height % 2 == 0
    for a in range(count):
        for b in range(a + 1, count):
            ta, tb = tiles[a].video, tiles[b].video
            apart = ta.right <= tb.x or tb.right <= ta.x or ta.bottom <= tb.y or tb.bottom <= ta.y
            assert apart, (a, b)
            # row by row, left to right
            assert (ta.y, ta.x) < (tb.y, tb.x)
    assert len({(t.video.width, t.video.height) for t in tiles}) == 1


def test_a_picture_keeps_its_shape_inside_its_tile() -> None:
    placed = fit(640, 480, Rect(0, 0, 400, 200))
    assert placed.height == 200
    assert placed.width in (266, 266 - 1, 264)
    assert placed.x > 0
    assert placed.y == 0


def test_the_idle_screen_says_who_what_and_how_many_wait() -> None:
    view = View("idle", box_name="Exam room 2", connection=Connection.LOCAL, clock="10:30",
                buttons=("1   Join Meeting room 1", "3   Leave the call"), waiting=2)  # fmt: skip
    said = words(scene(view, 1280, 720))
    assert said[:1] == ["Exam room 2"]
    assert "Clinic unreachable: calls go over the local network" in said
    assert "10:30" in said
    assert "1   Join Meeting room 1" in said
    assert "3   Leave the call" in said
    assert "2 patients are waiting" in said
    assert "Nobody is waiting" in words(scene(View("idle", waiting=0), 1280, 720))


def test_joining_failing_not_enrolled_and_identify_in_plain_words() -> None:
    assert words(scene(View("joining", room="Meeting room 1"), 1280, 720)) == [
        "Joining Meeting room 1..."
    ]
    failed = words(scene(View("error", problem="the clinic is unreachable"), 1280, 720))
    assert failed == ["Could not join", "the clinic is unreachable"]
    enrol = words(scene(View("not_enrolled", serial="abc123", enroll_hint=("go to /admin",)),
                        1280, 720))  # fmt: skip
    assert "This box is not enrolled yet" in enrol
    assert "Serial number: abc123" in enrol
    assert "go to /admin" in enrol
    shown = scene(View("in_call", box_name="Exam room 2", identify=True), 1280, 720)
    assert words(shown) == ["Exam room 2"]
    assert not shown.pictures


def test_a_call_shows_every_participant_named_with_badges_and_the_box_small() -> None:
    people = (
        Participant("a", "Dr Ada", muted=False, video=Video.LIVE),
        Participant("b", "Grace", muted=True, video=Video.LIVE),
        Participant("c", "Patient", muted=False, video=Video.PAUSED),
    )
    view = View("in_call", room="Meeting room 1", participants=people, duration="3:07")
    drawn = scene(view, 1280, 720)
    said = words(drawn)
    assert {"Meeting room 1", "3:07", "Dr Ada", "Grace", "Patient", "Muted"} <= set(said)
    assert "Video paused" in said  # a stopped picture is marked, not shown
    assert [p.key for p in drawn.pictures] == ["a", "b", SELF]
    own = drawn.pictures[-1].rect
    tiles = [p.rect for p in drawn.pictures[:-1]]
    assert own.width * 4 < 1280
    assert all(own.width < t.width for t in tiles)
    no_camera = scene(View("in_call", participants=people, camera_off=True), 1280, 720)
    assert SELF not in [p.key for p in no_camera.pictures]
    assert "You: Camera off" in words(no_camera)


def test_pictures_are_drawn_again_only_when_a_new_one_came() -> None:
    composer = Composer(DisplayMode(1280, 720, 30))
    people = (Participant("a", "Ada", False, Video.LIVE), Participant("b", "Bo", False, Video.LIVE))
    drawn = scene(View("in_call", room="R", participants=people, duration="0:01"), 1280, 720)
    red, green = solid((230, 20, 20)), solid((20, 230, 20))
    frames = {"a": red, "b": green}
    assert composer.compose(drawn, frames)
    texts, pictures = composer.glyphs.rendered, composer.pictures_drawn
    assert pictures == 2
    centre = {p.key: (p.rect.y + p.rect.height // 2, p.rect.x + p.rect.width // 2)
              for p in drawn.pictures}  # fmt: skip
    assert composer.canvas[centre["a"]][2] > 200
    assert composer.canvas[centre["b"]][1] > 200
    assert not composer.compose(drawn, frames)  # nothing new: nothing drawn
    frames["b"] = solid((20, 20, 230))
    assert composer.compose(drawn, frames)
    assert composer.pictures_drawn == pictures + 1  # only the new picture
    assert composer.glyphs.rendered == texts  # no words drawn again
    assert composer.canvas[centre["b"]][0] > 200  # blue now
    # a second later: the words change, the pictures come back over them
    later = scene(View("in_call", room="R", participants=people, duration="0:02"), 1280, 720)
    redraws = composer.full_redraws
    assert composer.compose(later, frames)
    assert composer.glyphs.rendered == texts + 1  # "0:02", once
    assert composer.full_redraws == redraws  # only the duration's place drawn again
    fresh = Composer(DisplayMode(1280, 720, 30))
    fresh.compose(later, frames)
    assert np.array_equal(fresh.canvas, composer.canvas)  # as if drawn from nothing
    assert composer.canvas[centre["a"]][2] > 200


def test_words_are_blended_into_the_canvas() -> None:
    composer = Composer(DisplayMode(640, 360, 30))
    composer.compose(scene(View("idle", box_name="Exam room 2"), 640, 360), {})
    canvas = composer.canvas
    assert (canvas[0, 0] == bgrx(BACKGROUND)).all()
    name_area = canvas[20:60, 20:300, :3]
    assert name_area.max() > 200  # light letters on the dark background
    assert len(np.unique(name_area.reshape(-1, 3), axis=0)) > 10  # anti-aliased edges


def test_a_picture_of_any_size_is_fitted_in_its_tile() -> None:
    composer = Composer(DisplayMode(1280, 720, 30))
    drawn = scene(View("in_call", participants=(Participant("a", "A", False, Video.LIVE),)),
                  1280, 720)  # fmt: skip
    tile = next(p for p in drawn.pictures if p.key == "a")
    assert isinstance(tile, Picture)
    composer.compose(drawn, {"a": solid((250, 250, 0), 320, 240)})
    rect = tile.rect
    middle = composer.canvas[rect.y + rect.height // 2, rect.x + rect.width // 2]
    assert middle[1] > 200
    assert middle[2] > 200
    assert middle[0] < 60


def test_the_self_view_is_drawn_again_only_over_a_picture_drawn_under_it() -> None:
    composer = Composer(DisplayMode(1280, 720, 30))
    people = (Participant("a", "Ada", False, Video.LIVE), Participant("b", "Bo", False, Video.LIVE))
    drawn = scene(View("in_call", room="R", participants=people), 1280, 720)
    rects = {p.key: p.rect for p in drawn.pictures}
    under = [k for k in ("a", "b") if _overlaps(rects[k], rects[SELF])]
    apart = [k for k in ("a", "b") if k not in under]
    assert under
    assert apart
    frames = {"a": solid((230, 20, 20)), "b": solid((20, 230, 20)), SELF: solid((20, 20, 230))}
    composer.compose(drawn, frames)
    frames[apart[0]] = solid((200, 200, 20))
    composer.compose(drawn, frames)
    assert composer.last_drawn == [apart[0]]  # one picture's work per new picture
    frames[under[0]] = solid((20, 200, 200))
    composer.compose(drawn, frames)
    assert composer.last_drawn == [under[0], SELF]
    own = rects[SELF]
    assert composer.canvas[own.y + own.height // 2, own.x + own.width // 2][0] > 200  # still blue


def _overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom
