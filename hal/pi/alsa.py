"""ALSA microphone and speaker through pyalsaaudio, each in a worker thread.

48 kHz mono s16 in 20 ms periods; the device is chosen by its ALSA name (``default``,
``plughw:CARD=Device``, ... as `arecord -L` / `aplay -L` list them). Capture is paced
by the sound card; xruns are recovered by ALSA and counted here.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

import av

from hal.audio import MonoConverter, mono_frame
from hal.errors import DeviceFailedError, DeviceMissingError, HalError
from hal.health import Health, HealthState
from hal.interfaces import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from hal.lazy import lazy_module
from hal.pi.threaded import ThreadedSource

if TYPE_CHECKING:
    import alsaaudio
    import numpy as np
else:
    alsaaudio = lazy_module("alsaaudio")
    np = lazy_module("numpy")

log = logging.getLogger(__name__)

PERIODS = 4  # ALSA buffer: 80 ms
SPEAKER_QUEUE_FRAMES = 10  # 200 ms: a late network burst plays, a longer one is dropped


def open_pcm(kind: int, device: str) -> Any:
    """An opened PCM; DeviceMissingError when there is no such device."""
    try:
        return alsaaudio.PCM(
            kind, alsaaudio.PCM_NORMAL, device=device, rate=AUDIO_SAMPLE_RATE, channels=1,
            format=alsaaudio.PCM_FORMAT_S16_LE, periodsize=AUDIO_FRAME_SAMPLES, periods=PERIODS,
        )  # fmt: skip
    except alsaaudio.ALSAAudioError as exc:
        raise _hal_error(device, exc) from exc


def _hal_error(device: str, exc: Exception) -> HalError:
    text = str(exc)
    if any(s in text for s in ("No such file", "No such device", "Unknown PCM", "not found")):
        return DeviceMissingError(f"sound device {device!r}: {text}")
    return DeviceFailedError(f"sound device {device!r}: {text}")


class AlsaMicrophone:
    def __init__(self, device: str = "default") -> None:
        self.device = device
        self.xruns = 0
        self._pcm: Any = None
        self._source: ThreadedSource[bytes] | None = None
        self._pts = 0
        self._health = Health.missing("not started")

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        if self._source is not None:
            return
        try:
            self._pcm = open_pcm(alsaaudio.PCM_CAPTURE, self.device)
        except HalError as exc:
            self._health = Health.of_exception(exc)
            raise
        self._source = ThreadedSource(f"mic {self.device}", self._read_period, depth=4)
        self._health = Health.ok()

    def _read_period(self) -> bytes:
        while True:
            length, data = self._pcm.read()
            if length == AUDIO_FRAME_SAMPLES:
                return bytes(data)
            if length == -errno.EPIPE:
                # an overrun while nobody was reading is the idle box, not a fault
                if not self._source or not self._source.waited:
                    self.xruns += 1
                    log.debug("microphone overrun (%d so far)", self.xruns)
                continue
            if length < 0:
                raise DeviceFailedError(f"microphone read failed: {errno.errorcode.get(-length)}")

    async def read(self) -> av.AudioFrame:
        if self._source is None:
            await self.start()  # unplugged before: plugged in again?
        assert self._source is not None
        try:
            data = await self._source.get()
        except alsaaudio.ALSAAudioError as exc:
            await self.stop()
            error = _hal_error(self.device, exc)
            self._health = Health.of_exception(error)
            raise error from exc
        except HalError as exc:
            await self.stop()
            self._health = Health.of_exception(exc)
            raise
        frame = mono_frame(np.frombuffer(data, dtype=np.int16), self._pts)
        self._pts += AUDIO_FRAME_SAMPLES
        return frame

    async def stop(self) -> None:
        if self._source is not None:
            self._source.stop()
            self._source = None
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None
        self._health = Health.missing("stopped")


class AlsaSpeaker:
    """Plays frames of any layout or rate; a worker thread writes them at the card's pace."""

    def __init__(self, device: str = "default") -> None:
        self.device = device
        self.underruns = 0
        self._pcm: Any = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(SPEAKER_QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._converter = MonoConverter()
        self._health = Health.missing("not started")

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        await self.stop()  # a writer that died of a device error: release it first
        try:
            self._pcm = open_pcm(alsaaudio.PCM_PLAYBACK, self.device)
        except HalError as exc:
            self._health = Health.of_exception(exc)
            raise
        self._queue = queue.Queue(SPEAKER_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._write, name=f"speaker {self.device}")
        self._thread.start()
        self._health = Health.ok()

    def _write(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._pcm.state() == alsaaudio.PCM_STATE_XRUN:
                self.underruns += 1
            try:
                self._pcm.write(data)
            except alsaaudio.ALSAAudioError as exc:
                self._health = Health.of_exception(_hal_error(self.device, exc))
                log.error("speaker: %s", exc)
                return

    async def play(self, frame: av.AudioFrame) -> None:
        if self._thread is None or not self._thread.is_alive():
            # reopening is the hot-plug loop's job (Hal.keep_parts_open), not every 20 ms
            failed = self._health.state is HealthState.ERROR
            error = DeviceFailedError if failed else DeviceMissingError
            raise error(f"speaker {self.device}: {self._health.reason}")
        samples = self._converter.convert(frame)
        if samples.size == 0:
            return
        try:
            self._queue.put_nowait(samples.tobytes())
        except queue.Full:  # more than the queue behind: drop, do not add delay
            log.debug("speaker queue full, dropped 20 ms")

    async def stop(self) -> None:
        if self._thread is not None:
            while True:
                try:
                    self._queue.put_nowait(None)
                    break
                except queue.Full:
                    self._queue.get_nowait()
            self._thread.join(2.0)
            self._thread = None
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None
        self._health = Health.missing("stopped")
