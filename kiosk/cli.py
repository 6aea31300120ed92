"""The `kiosk` command: run the daemon, press a button, show the status."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from kiosk import logs
from kiosk.config import Settings, load_settings
from kiosk.errors import ControlError, SettingsError

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon with its settings (KIOSK_* or the TOML file)")
    press = sub.add_parser("press", help="press physical button N on the running daemon")
    press.add_argument("number", type=int)
    press.add_argument("--hold", action="store_true", help="hold it (long press)")
    status = sub.add_parser("status", help="show the running daemon's state")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    for p in (press, status):
        p.add_argument("--socket", type=Path, help="control socket (default from settings)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "run":
        return _run(settings)
    socket = args.socket or settings.control_socket_path
    try:
        if args.command == "press":
            url = f"/buttons/{args.number}/press" + ("?hold=1" if args.hold else "")
            body = asyncio.run(_request(socket, "POST", url))
            print(json.dumps(body))
            return 0
        body = asyncio.run(_request(socket, "GET", "/status"))
    except ControlError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body) if args.json else _human_status(body))
    return 0


def _run(settings: Settings) -> int:
    from kiosk import run

    interactive = settings.terminal
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
    status_line = logs.setup(settings.log_level, status_line=interactive)
    return run.main(settings, status_line)


async def _request(socket: Path, method: str, url: str) -> dict[str, Any]:
    from kiosk.control import request

    return await request(socket, method, url)


def _human_status(status: dict[str, Any]) -> str:
    lines = [
        f"state:       {status['state']}"
        + (f" in {status['room_id']}" if status["room_id"] else ""),
        f"enrolled:    {'yes' if status['enrolled'] else 'no'}",
        f"signalling:  {status['signalling']}",
        f"muted:       {'yes' if status['muted'] else 'no'}   "
        f"camera: {'off' if status['camera_off'] else 'on'}",
        "peripherals: " + ", ".join(f"{k} {v}" for k, v in status["peripherals"].items()),
        "LEDs:        " + ", ".join(f"{k} {v}" for k, v in status["leds"].items()),
    ]
    for name, reason in status.get("peripheral_problems", {}).items():
        lines.append(f"  {name}: {reason}")
    if status.get("last_error"):
        lines.append(f"last error:  {status['last_error']}")
    lines.append(f"peers:       {len(status['peers'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
