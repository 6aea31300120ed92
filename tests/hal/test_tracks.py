from __future__ import annotations

import pytest
from aiortc.mediastreams import MediaStreamError

from hal import Hal
from hal.tracks import CameraTrack, MicrophoneTrack


async def test_hal_sources_are_aiortc_tracks(any_hal: Hal) -> None:
    video, audio = CameraTrack(any_hal.camera), MicrophoneTrack(any_hal.microphone)
    assert (video.kind, audio.kind) == ("video", "audio")
    frame = await video.recv()
    assert (frame.width, frame.height) == (any_hal.camera.width, any_hal.camera.height)
    assert (await audio.recv()).sample_rate == 48_000
    video.stop()
    with pytest.raises(MediaStreamError):
        await video.recv()


async def test_a_camera_that_goes_away_ends_its_track() -> None:
    from hal.fake import FakeCamera

    camera = FakeCamera(320, 240, 30)
    await camera.start()
    track = CameraTrack(camera)
    await track.recv()
    camera.faults.unplug()
    with pytest.raises(MediaStreamError, match="unplugged"):
        await track.recv()
    assert track.readyState == "ended"
