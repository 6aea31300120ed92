"""The video pipeline: a newcomer's first picture does not wait for the camera's next frame."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from hal.fake import FakeCamera
from kiosk.call.encoder import EncodedVideoTrack
from kiosk.call.video import VideoPipeline
from kiosk.call.video_source import VideoSource


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_a_newcomer_gets_a_keyframe_of_the_frame_already_read(codec: str) -> None:
    camera = FakeCamera(320, 240, 1)  # the next frame is a second away
    await camera.start()
    pipeline = VideoPipeline(VideoSource(camera, 320, 240, 1), 500_000, codec)
    running = asyncio.create_task(pipeline.run())
    track = EncodedVideoTrack(lambda: pipeline.encoder(codec))
    try:
        await asyncio.sleep(0.2)  # the first frame has been read; the second is 0.8 s off
        asked = time.monotonic()
        first = await asyncio.wait_for(track.recv(), 5)
        waited = time.monotonic() - asked
        assert first.is_keyframe
        assert waited < 0.4, f"the first keyframe waited {waited:.2f} s for the next frame"
        # the frame encoded out of turn is not encoded again: the next packet is newer
        second = await asyncio.wait_for(track.recv(), 5)
        assert first.pts is not None
        assert second.pts is not None
        assert second.pts > first.pts
        assert pipeline.encoders[codec].frames_encoded == 2
    finally:
        track.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        pipeline.close()
        await camera.stop()
