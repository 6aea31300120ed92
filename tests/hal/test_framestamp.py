from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal import framestamp
from hal.fake.camera import FakeCamera
from hal.framestamp import Stamp


@given(
    number=st.integers(0, 2**32 - 1),
    ms=st.integers(0, 2**48 - 1),
    width=st.sampled_from([96, 320, 640, 1280]),
)
def test_a_stamp_reads_back_exactly(number: int, ms: int, width: int) -> None:
    luma = np.full((framestamp.strip_height(width) + 32, width), 128, dtype=np.uint8)
    framestamp.write(luma, Stamp(number, ms))
    assert framestamp.read(luma) == Stamp(number, ms)


def test_a_picture_without_a_stamp_reads_as_none() -> None:
    assert framestamp.read(np.full((480, 640), 16, dtype=np.uint8)) is None
    assert framestamp.read(np.full((480, 640), 235, dtype=np.uint8)) is None
    assert framestamp.read(np.zeros((8, 640), dtype=np.uint8)) is None


@pytest.mark.parametrize(("codec", "decoder"), [("libx264", "h264"), ("libvpx", "vp8")])
async def test_stamps_survive_a_low_bitrate_encode(codec: str, decoder: str) -> None:
    camera = FakeCamera(640, 480, 30)
    await camera.start()
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.bit_rate = 250_000
    encoder.time_base = Fraction(1, 30)
    decode = av.CodecContext.create(decoder, "r")
    seen: list[Stamp | None] = []

    def decoded(packets: list[av.Packet] | list[None]) -> None:
        for packet in packets:
            for picture in decode.decode(packet):
                seen.append(framestamp.read(picture.to_ndarray(format="yuv420p")[:480]))

    for i in range(15):
        frame = await camera.read()
        frame.pts = i
        decoded(encoder.encode(frame))
    decoded(encoder.encode(None))
    decoded([None])  # flush the decoder too
    assert [s.frame_number if s else None for s in seen] == list(range(15))
    times = [s.capture_time_ms for s in seen if s]
    assert times == sorted(times)
