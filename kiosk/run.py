"""`kiosk run`: start the components in order, stop them in reverse, return an exit code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from contextlib import AsyncExitStack

import hal as hal_pkg
from kiosk import logs
from kiosk.call.ice import resolve, restrict_host_addresses
from kiosk.config import Settings
from kiosk.control import ControlServer
from kiosk.daemon import Daemon
from kiosk.errors import ControlBusyError, ControlError
from kiosk.logs import StatusLineHandler
from kiosk.management.backoff import Backoff
from kiosk.management.fallback import LanFallback
from kiosk.management.manager import Manager
from kiosk.management.state import DeviceState
from kiosk.memory import tune_allocator
from kiosk.screen.driver import Screen
from kiosk.screen.preview import Preview
from kiosk.systemd import Notifier

log = logging.getLogger(__name__)

EXIT_FAILURE = 1


async def run(settings: Settings, status_line: StatusLineHandler | None = None) -> int:
    """Run the daemon until SIGTERM or SIGINT."""
    began = time.monotonic()
    tune_allocator()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await _run(settings, stop, began, status_line)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _run(
    settings: Settings, stop: asyncio.Event, began: float, status_line: StatusLineHandler | None
) -> int:
    try:
        hal = hal_pkg.build(settings.hal, settings.hal_config())
    except (hal_pkg.HalError, ValueError) as exc:
        log.error("hal: %s", exc)
        return EXIT_FAILURE

    async with AsyncExitStack() as stack:
        # started in dependency order; the stack stops them in reverse, on every path
        await stack.enter_async_context(hal)
        restrict_host_addresses(settings.ice_host_addresses)
        daemon = Daemon(settings, hal, stop)
        stack.callback(daemon.timers.cancel_all)
        stack.push_async_callback(daemon.close)
        state = DeviceState(settings.state_dir)
        fallback = LanFallback(
            state,
            settings.fallback_listen_host,
            settings.fallback_port,
            interfaces=resolve(settings.ice_host_addresses),
        )
        backoff = Backoff(cap_s=settings.clinic_reconnect_max_s)
        manager = Manager(daemon, state, settings.enrollment_file, backoff, fallback)
        daemon.manager = manager
        logs.FIELDS.source = daemon.journal_fields
        daemon.start()
        await manager.restore()  # before anyone can ask: the cached config is in force
        stack.push_async_callback(manager.fallback.stop_hosting)
        control = ControlServer(daemon)
        try:
            await control.start(settings.control_socket_candidates())
        except ControlBusyError as exc:
            log.error("control socket: %s", exc)
            return EXIT_FAILURE
        except ControlError as exc:
            # a degraded box, not a dead one: buttons and calls work without the socket
            log.error("control socket: %s; `kiosk status` and `kiosk press` cannot reach "
                      "this daemon", exc)  # fmt: skip
        else:
            stack.push_async_callback(control.stop)
        screen = Screen(daemon, hal.display)
        daemon.screen = screen
        if settings.display_preview_port is not None:
            preview = Preview(screen, settings.display_preview_port)
            try:
                await preview.start()
            except OSError as exc:
                log.error("screen preview: %s", exc)
            else:
                stack.push_async_callback(preview.stop)
        notifier = Notifier()
        daemon.observe(lambda: notifier.status(daemon.human_status()))
        if status_line is not None:
            from kiosk.terminal import Console

            await stack.enter_async_context(Console(daemon, status_line))
        log.info(
            "ready in %.2f s (hal=%s, state=%s)",
            time.monotonic() - began,
            settings.hal,
            daemon.controller.state,
        )
        async with asyncio.TaskGroup() as tasks:
            workers = [
                tasks.create_task(daemon.pump_buttons(), name="buttons"),
                tasks.create_task(daemon.watch_health(), name="health"),
                tasks.create_task(hal.keep_parts_open(), name="hot-plug"),
                tasks.create_task(manager.run(), name="management"),
                tasks.create_task(state.files.keep_writing(), name="state-writer"),
                tasks.create_task(screen.run(), name="screen"),
            ]
            interval = notifier.watchdog_interval()
            if interval is not None:
                workers.append(
                    tasks.create_task(notifier.keep_watchdog_fed(interval), name="watchdog")
                )
            notifier.status(daemon.human_status())
            notifier.ready()  # the HAL, the control socket and management are up
            await stop.wait()
            notifier.stopping()
            log.info("stopping")
            for task in workers:
                task.cancel()
    log.info("stopped")
    return daemon.exit_code


def main(settings: Settings, status_line: StatusLineHandler | None) -> int:
    code = EXIT_FAILURE
    with contextlib.suppress(KeyboardInterrupt):
        code = asyncio.run(run(settings, status_line))
    lingering = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if lingering:
        # aiortc starts a decoder thread per receiver; for a connection whose remote died
        # during negotiation it can outlive close(), and the interpreter would wait for
        # it forever. Every state file is already on disk (written atomically): go.
        log.warning("threads still running at exit: %s; exiting anyway", ", ".join(lingering))
        logging.shutdown()
        os._exit(code)
    return code
