"""A participant in a process of its own, so a test can freeze its network (SIGSTOP).

Usage: python -m tests.participant SIGNAL_URL TOKEN NAME [FPS [CALLS]]. CALLS is whom it
offers to on joining: `everyone` there (the default) or `nobody` (it only answers, so
participants that join before the box are linked to the box alone). Prints one JSON line a
second: {"video": {peer: frames}, "audio": {peer: frames}, "states": {peer: state}}.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from kiosk.call.ice import restrict_host_addresses
from tests.mesh_peer import MeshPeer, nobody


async def main(url: str, token: str, name: str, fps: str = "10", calls: str = "everyone") -> None:
    if calls not in ("everyone", "nobody"):
        raise SystemExit(f"CALLS is everyone or nobody, not {calls!r}")
    restrict_host_addresses(["127.0.0.1"])
    async with aiohttp.ClientSession() as session:
        offer_to = None if calls == "everyone" else nobody
        peer = MeshPeer(session, url, token, name, fps=int(fps), offer_to=offer_to)
        await peer.join()
        try:
            while True:
                states = {remote: pc.connectionState for remote, pc in peer.pcs.items()}
                print(json.dumps({"video": peer.video_frames, "audio": peer.audio_frames,
                                  "states": states}), flush=True)  # fmt: skip
                await asyncio.sleep(1)
        finally:
            await peer.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
