"""The constrained-uplink scenario of tests/network/: prints one JSON object.

A fake-HAL kiosk with a busy 640x480@30 picture (VP8, at most 1500 kbit/s) in its own
network namespace; its uplink drops to 1 Mbit/s with 2 % loss for 60 s (this kernel has
no netem: the token bucket's queue is the delay). Received frame rate and freezes at a
headless Chromium guest, then at a receive-only aiortc participant; what the kiosk sent;
how long after the link is freed the kiosk is back at the picture size and rate it had
before (targets: >= 10 fps, no freeze over 2 s, recovery <= 15 s). Needs root
(namespaces) and the loopback-only run ./dev bench does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.network.scenario import constrained_uplink


async def main() -> dict[str, object]:
    runs = []
    for browser in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(await constrained_uplink(Path(tmp), constrained_s=60, browser=browser))
    return {"benchmark": "network", "runs": runs,
            "targets": {"fps": 10, "longest_freeze_s": 2, "recovered_after_s": 15}}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
