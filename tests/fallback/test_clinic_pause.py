"""A clinic that pauses (a busy or migrating server) for 5 s disconnects nobody; one that
stays silent is left for the LAN fallback within 10 s of its last word."""

from __future__ import annotations

import asyncio
import signal
import time

from tests.fallback.conftest import LanFactory


async def test_a_clinic_paused_for_5_s_disconnects_nobody(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], ["exam-2"])
    for name in net.kiosks:
        await net.signalling(name, "cloud")
    assert net.clinic.proc is not None
    net.clinic.proc.send_signal(signal.SIGSTOP)
    seen: set[tuple[str, bool, str]] = set()
    try:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            for name, kiosk in net.kiosks.items():
                status = await kiosk.status()
                seen.add((name, status["clinic_connected"], status["signalling"]))
            await asyncio.sleep(0.1)
    finally:
        net.clinic.proc.send_signal(signal.SIGCONT)
    end = time.monotonic() + 3  # and once it answers again, nothing was dropped behind
    while time.monotonic() < end:
        for name, kiosk in net.kiosks.items():
            status = await kiosk.status()
            seen.add((name, status["clinic_connected"], status["signalling"]))
        await asyncio.sleep(0.1)
    assert seen == {("exam-1", True, "cloud"), ("exam-2", True, "cloud")}


async def test_a_silent_clinic_is_left_for_the_lan_within_10_s(lan: LanFactory) -> None:
    net = await lan(["exam-1", "exam-2"], ["exam-2"])
    await net.signalling("exam-1", "cloud")
    assert net.clinic.proc is not None
    net.clinic.proc.send_signal(signal.SIGSTOP)  # alive to the kernel, silent to everyone
    stopped = time.monotonic()
    try:
        await net.signalling("exam-1", "local", timeout=15)
        noticed = time.monotonic() - stopped
    finally:
        net.clinic.proc.send_signal(signal.SIGCONT)
    assert 5 <= noticed <= 10, noticed
