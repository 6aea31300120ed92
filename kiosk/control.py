"""The local control socket: `kiosk press N` and `kiosk status` talk to the daemon here.

HTTP over a Unix socket (aiohttp), reachable only by users who may open the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kiosk.daemon import Daemon
from kiosk.errors import ControlBusyError, ControlError
from kiosk.management.enroll import EnrollmentError
from kiosk.management.persist import describe

log = logging.getLogger(__name__)

DAEMON = web.AppKey("daemon", Daemon)


async def _status(request: web.Request) -> web.Response:
    return web.json_response(request.app[DAEMON].status())


async def _press(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    try:
        number = int(request.match_info["number"])
    except ValueError:
        return _error(400, "bad_message", "button number must be an integer")
    hold = request.query.get("hold") in ("1", "true")
    try:
        await daemon.hal.buttons.press(number, hold=hold)
    except KeyError as exc:
        return _error(404, "unknown_button", str(exc.args[0]))
    return web.json_response(daemon.status())


async def _enroll(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    try:
        body = await request.json()
        code, clinic_url = str(body["code"]), str(body["clinic_url"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_message", "expected {code, clinic_url}")
    if daemon.manager is None:
        return _error(409, "conflict", "management is not running")
    try:
        credential = await daemon.manager.enroll(clinic_url, code)
    except ValueError as exc:
        return _error(409, "conflict", str(exc))
    except EnrollmentError as exc:
        return _error(401, "invalid_code", str(exc))
    return web.json_response({"device_id": credential.device_id, "clinic_id": credential.clinic_id})


async def _fault(request: web.Request) -> web.Response:
    """Testers of the fake HAL: unplug, replug or break a part of the running box."""
    daemon = request.app[DAEMON]
    part, action = request.match_info["part"], request.match_info["action"]
    device = dict(daemon.hal.parts()).get(part)
    faults = getattr(device, "faults", None)
    if faults is None:
        return _error(404, "not_found", f"{part} of the {daemon.hal.backend} HAL takes no faults")
    if action == "unplug":
        faults.unplug()
    elif action == "replug":
        faults.replug()
    elif action == "fail":
        faults.fail("injected fault")
    else:
        return _error(400, "bad_message", "action: unplug, replug or fail")
    return web.json_response({"part": part, "health": device.health.state.value})  # type: ignore[union-attr]


async def _display_png(request: web.Request) -> web.Response:
    """What the box's screen shows now (PROTOCOL.md section 6, `kiosk display --png`)."""
    screen = request.app[DAEMON].screen
    image = await screen.png() if screen is not None else None
    if image is None:
        return _error(404, "no_display", "this box has no display (or nothing is shown yet)")
    return web.Response(body=image, content_type="image/png")


FREEZE_S = 3600.0
FREEZE_AFTER_S = 0.5  # the answer is out by then


async def _freeze(request: web.Request) -> web.Response:
    """Testers of the watchdog: block the event loop, as a bug would; systemd's watchdog
    must then kill and restart the daemon. Fake HAL only."""
    daemon = request.app[DAEMON]
    if daemon.hal.backend != "fake":
        return _error(404, "not_found", "only the fake HAL freezes its loop on request")
    log.warning("freezing the event loop for %.0f s, as asked", FREEZE_S)
    # after this answer has gone out, however busy the loop is just now
    asyncio.get_running_loop().call_later(FREEZE_AFTER_S, time.sleep, FREEZE_S)
    return web.json_response({"loop": "frozen", "seconds": FREEZE_S})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class ControlServer:
    def __init__(self, daemon: Daemon) -> None:
        self._path: Path | None = None
        self._app = web.Application()
        self._app[DAEMON] = daemon
        self._app.router.add_get("/status", _status)
        self._app.router.add_get("/display.png", _display_png)
        self._app.router.add_post("/buttons/{number}/press", _press)
        self._app.router.add_post("/enroll", _enroll)
        self._app.router.add_post("/fake/loop/freeze", _freeze)
        self._app.router.add_post("/fake/{part}/{action}", _fault)
        self._runner = web.AppRunner(self._app, handle_signals=False)

    async def start(self, candidates: list[Path]) -> None:
        """Listen on the first of ``candidates`` that works (the runtime directory, then
        the state directory); ControlBusyError if another daemon has one, ControlError
        if none works."""
        await self._runner.setup()
        failures = []
        for path in candidates:
            try:
                _remove_stale_socket(path)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                await web.UnixSite(self._runner, str(path)).start()
                os.chmod(path, 0o660)
            except ControlBusyError:  # (a ConnectionError, so an OSError: first)
                await self._runner.cleanup()
                raise
            except OSError as exc:
                failures.append(f"cannot listen on {path}: {describe(exc)}")
                continue
            for failure in failures:
                log.warning("%s; using %s instead", failure, path)
            self._path = path
            log.info("control socket %s", path)
            return
        await self._runner.cleanup()
        raise ControlError("; ".join(failures))

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()


def _remove_stale_socket(path: Path) -> None:
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        # left over by a daemon that died (a read-only directory keeps it: start says so)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise ControlBusyError(f"another kiosk daemon is running on {path}")


async def request(
    path: Path, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One request to the daemon's control socket; raises ControlError with the reason."""
    answer: dict[str, Any] = json.loads(await fetch(path, method, url, body))
    return answer


async def fetch(path: Path, method: str, url: str, body: dict[str, Any] | None = None) -> bytes:
    """The body of one answer of the daemon; ControlError with the reason for an error."""
    try:
        async with (
            aiohttp.UnixConnector(path=str(path)) as connector,
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=10)
            ) as session,
            session.request(method, "http://kiosk" + url, json=body) as response,
        ):
            answer = await response.read()
    except (aiohttp.ClientConnectionError, FileNotFoundError) as exc:
        raise ControlError(f"no kiosk daemon answers on {path} (is `kiosk run` running?)") from exc
    if response.status >= 400:
        try:
            message = json.loads(answer)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status}"
        raise ControlError(message)
    return answer
