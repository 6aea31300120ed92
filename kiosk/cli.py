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
from kiosk.version import SOFTWARE_VERSION

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kiosk {SOFTWARE_VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon with its settings (KIOSK_* or the TOML file)")
    press = sub.add_parser("press", help="press physical button N on the running daemon")
    press.add_argument("number", type=int)
    press.add_argument("--hold", action="store_true", help="hold it (long press)")
    enroll = sub.add_parser("enroll", help="enroll this box with a one-time code")
    enroll.add_argument("code", help="the 16-digit code the clinic admin was shown")
    enroll.add_argument("--clinic-url", help="the clinic service (default: clinic_url setting)")
    status = sub.add_parser("status", help="show the running daemon's state")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    display = sub.add_parser("display", help="save what the box's screen shows now")
    display.add_argument("--png", type=Path, required=True, metavar="FILE", help="PNG to write")
    fake = sub.add_parser("fake", help="fake HAL: unplug, replug or break a part; freeze the loop")
    fake.add_argument("part", help="camera, microphone, speaker, or loop")
    fake.add_argument("action", help="unplug, replug, fail; for the loop: freeze")
    for p in (press, status, enroll, display, fake):
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
    if args.command == "enroll":
        return _enroll(settings, socket, args.code, args.clinic_url)
    try:
        if args.command == "press":
            url = f"/buttons/{args.number}/press" + ("?hold=1" if args.hold else "")
            body = asyncio.run(_request(socket, "POST", url))
            print(json.dumps(body))
            return 0
        if args.command == "display":
            return _display(socket, args.png)
        if args.command == "fake":
            body = asyncio.run(_request(socket, "POST", f"/fake/{args.part}/{args.action}"))
            print(json.dumps(body))
            return 0
        body = asyncio.run(_request(socket, "GET", "/status"))
    except ControlError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body) if args.json else _human_status(body))
    return 0


def _display(socket: Path, target: Path) -> int:
    """Exit 1 (ControlError, from the caller) when the box has no display."""
    from kiosk.control import fetch

    image = asyncio.run(fetch(socket, "GET", "/display.png"))
    try:
        target.write_bytes(image)
    except OSError as exc:
        print(f"kiosk: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return 1
    print(json.dumps({"png": str(target), "bytes": len(image)}))
    return 0


def _run(settings: Settings) -> int:
    from kiosk import run

    interactive = settings.terminal
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
    status_line = logs.setup(settings.log_level, status_line=interactive)
    return run.main(settings, status_line)


async def _request(
    socket: Path, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    from kiosk.control import request

    return await request(socket, method, url, body)


def _enroll(settings: Settings, socket: Path, code: str, clinic_url: str | None) -> int:
    """Through the running daemon if there is one (it starts its channel at once),
    else straight into the state directory for the next start."""
    from kiosk.management.enroll import EnrollmentError, enroll
    from kiosk.management.state import DeviceState

    url = clinic_url or (str(settings.clinic_url) if settings.clinic_url else None)
    if url is None:
        print("kiosk: enroll needs --clinic-url (or the clinic_url setting)", file=sys.stderr)
        return EXIT_USAGE
    state = DeviceState(settings.state_dir)
    if socket.exists():
        try:
            body = asyncio.run(
                _request(socket, "POST", "/enroll", {"code": code, "clinic_url": url})
            )
        except ControlError as exc:
            if "no kiosk daemon answers" not in str(exc):
                print(f"kiosk: {exc}", file=sys.stderr)
                return 1
        else:
            print(json.dumps(body))
            return 0
    existing = state.credential()
    if existing is not None:
        print(f"kiosk: already enrolled as {existing.device_id}", file=sys.stderr)
        return 1
    try:
        credential = asyncio.run(enroll(url, code, state))
    except EnrollmentError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    if state.problem is not None:
        # no daemon keeps it in memory: an unsaved credential would be lost at exit
        print(
            f"kiosk: enrolled as {credential.device_id}, but cannot save the credential "
            f"({state.problem.path}: {state.problem.reason}); free the state directory "
            "and enroll with a new code",
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"device_id": credential.device_id, "clinic_id": credential.clinic_id}))
    return 0


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
    display = status.get("display") or {}
    if display.get("state") not in (None, "missing"):
        lines.append(f"display:     {display['state']} {display.get('mode') or ''}".rstrip())
    for name, reason in status.get("peripheral_problems", {}).items():
        lines.append(f"  {name}: {reason}")
    if status.get("last_error"):
        lines.append(f"last error:  {status['last_error']}")
    if status.get("uplink", "ok") != "ok":
        why = "cannot carry every participant at the minimum bitrate"
        lines.append(f"uplink:      {status['uplink']} ({why})")
    if status.get("turn_problem"):
        lines.append(f"TURN:        {status['turn_problem']}")
    if status.get("storage_problem"):
        problem = status["storage_problem"]
        lines.append(f"storage:     cannot write {problem['path']} ({problem['reason']})")
    if status.get("echo_cancellation"):
        lines.append(f"echo canc.:  {status['echo_cancellation']}")
    lines.append(f"peers:       {len(status['peers'])}")
    for peer in status["peers"]:
        lines.append(
            f"  {peer['name'] or peer['peer_id']}: {peer.get('connection', '?')}, "
            f"{peer['video_frames_received']} video / {peer['audio_frames_received']} audio "
            "frames received"
            + ("; our video to it paused (uplink)" if peer.get("video_paused") else "")
        )
    if status.get("enrolled"):
        lines.insert(
            2,
            f"device:      {status['device_id']} at {status['clinic_url']}"
            + ("" if status.get("clinic_connected") else " (not connected)"),
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
