"""The daemon's memory: a picture-sized buffer freed and made again in a call's thread
reuses the heap's pages instead of faulting fresh ones in; what only some boxes use is
not loaded by the others."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import resource, sys, threading
import numpy as np
from kiosk.memory import tune_allocator

if sys.argv[1] == "tuned":
    assert tune_allocator()

def pictures(out):
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(50):
        picture = np.empty(600_000, np.uint8)  # a 640x480 frame and a bit
        picture.fill(1)  # written, as a decoder or a scaler writes it
        del picture
    out.append((resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before) / 50)

out = []
thread = threading.Thread(target=pictures, args=(out,))  # a thread's own arena, as a call's
thread.start()
thread.join()
print(out[0])
"""


def faults_per_picture(tuning: str) -> float:
    probe = PROBE.replace("tune_allocator()", tuning)
    done = subprocess.run(
        [sys.executable, "-c", probe, "tuned"], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def test_a_picture_sized_buffer_is_not_faulted_in_afresh_each_time() -> None:
    pages = 600_000 / 4096
    assert faults_per_picture("tune_allocator()") < pages / 20
    # the threshold fixed at glibc's initial 128 KiB, as the daemon had it: every page
    assert faults_per_picture("tune_allocator(2, 128 * 1024, 128 * 1024)") > pages / 2


def test_a_box_that_hosts_no_lan_fallback_never_loads_its_hub() -> None:
    """The LAN hub, its web server and mDNS are loaded once the config names the box a
    host (`tests/fallback` runs hosts): the others are about 1 MiB smaller for it
    (an idle box, three runs by hand each way: 92.2 -> 91.2 MiB)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, kiosk.run; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "kiosk.management.fallback" in loaded  # the box's side of the fallback is there
    unused = {"kiosk.signalling.hub", "kiosk.signalling.server", "zeroconf"}
    assert not unused & set(loaded)
