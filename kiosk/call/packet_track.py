"""A track that hands aiortc packets a shared encoder already made.

aiortc's sender packetizes an `av.Packet` a track returns without encoding it again. Each
sender gets its own `PacketTrack`; the shared encoder fills its queue, and what happens
when the queue is full (drop the oldest audio, skip video to the next keyframe) is the
subclass's choice.
"""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hal.interfaces import Packet


class PacketTrack(MediaStreamTrack):
    def __init__(self, queue_size: int) -> None:
        super().__init__()
        self._queue: asyncio.Queue[Packet | None] = asyncio.Queue(queue_size)

    def _end(self) -> None:
        """The encoder is gone: ``recv`` ends once the queue is drained."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        super().stop()

    async def _next(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet
