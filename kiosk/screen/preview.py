"""For testers without a screen: the box's screen, live, on a loopback web page (MJPEG)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from kiosk.screen.driver import Screen

log = logging.getLogger(__name__)

SCREEN = web.AppKey("screen", Screen)
FPS = 10.0
BOUNDARY = "frame"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>The box's screen</title><style>body{margin:0;background:#111}
img{display:block;width:100vw;height:100vh;object-fit:contain}</style></head>
<body><img src="/stream" alt="What the box's screen shows"></body></html>"""


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _stream(request: web.Request) -> web.StreamResponse:
    screen = request.app[SCREEN]
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    sent = -1
    while True:
        if screen.shown != sent:
            image = await screen.jpeg()
            if image is not None:
                sent = screen.shown
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                head += f"Content-Length: {len(image)}\r\n\r\n"
                await response.write(head.encode() + image + b"\r\n")
        await asyncio.sleep(1 / FPS)


class Preview:
    def __init__(self, screen: Screen, port: int) -> None:
        app = web.Application()
        app[SCREEN] = screen
        app.router.add_get("/", _page)
        app.router.add_get("/stream", _stream)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        self._port = port

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        log.info("the screen, live: http://127.0.0.1:%d/", self._port)

    async def stop(self) -> None:
        await self._runner.cleanup()
