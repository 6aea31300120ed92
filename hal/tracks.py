"""aiortc ``MediaStreamTrack``s over HAL sources, for code that wants a plain track."""

from __future__ import annotations

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hal.errors import HalError
from hal.interfaces import Camera, Microphone


class CameraTrack(MediaStreamTrack):
    """Frames of a HAL camera; ends (``MediaStreamError``) when the camera fails."""

    kind = "video"

    def __init__(self, camera: Camera) -> None:
        super().__init__()
        self._camera = camera

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            return await self._camera.read()
        except HalError as exc:
            self.stop()
            raise MediaStreamError(str(exc)) from exc


class MicrophoneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, microphone: Microphone) -> None:
        super().__init__()
        self._microphone = microphone

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            return await self._microphone.read()
        except HalError as exc:
            self.stop()
            raise MediaStreamError(str(exc)) from exc
