"""Start-up time of `kiosk run` with the fake HAL: process start to control socket answering.

Prints one JSON object. Target: under 1.5 s. The ratio to a bare `python -c pass` start
is measured in the same run, so a slow machine shows as a slow baseline, not a regression.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.processes import KioskProcess

RUNS = 7
TARGET_S = 1.5


async def one_start() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        proc = KioskProcess(Path(tmp))
        await proc.start()
        proc.stop()
        return proc.ready_after


def bare_python() -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


async def main() -> None:
    starts = [await one_start() for _ in range(RUNS)]
    baseline = statistics.median(bare_python() for _ in range(RUNS))
    median = statistics.median(starts)
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "runs": RUNS,
                "ready_median_s": round(median, 3),
                "ready_max_s": round(max(starts), 3),
                "bare_python_median_s": round(baseline, 3),
                "ratio_to_bare_python": round(median / baseline, 1),
                "target_s": TARGET_S,
                "meets_target": median < TARGET_S,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
