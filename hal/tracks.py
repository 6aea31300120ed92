"""aiortc ``MediaStreamTrack``s over HAL sources, for code that wants a plain track."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hal.errors import HalError
from hal.interfaces import Camera, Microphone

F = TypeVar("F", av.VideoFrame, av.AudioFrame)


class _DeviceTrack(MediaStreamTrack, Generic[F]):
    """Frames of one HAL source; ends (``MediaStreamError``) when the device fails."""

    def __init__(self, read: Callable[[], Awaitable[F]]) -> None:
        super().__init__()
        self._read: Callable[[], Awaitable[F]] = read

    async def recv(self) -> F:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            return await self._read()
        except HalError as exc:
            self.stop()
            raise MediaStreamError(str(exc)) from exc


class CameraTrack(_DeviceTrack[av.VideoFrame]):
    kind = "video"

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera.read)


class MicrophoneTrack(_DeviceTrack[av.AudioFrame]):
    kind = "audio"

    def __init__(self, microphone: Microphone) -> None:
        super().__init__(microphone.read)
