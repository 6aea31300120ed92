"""The `clinic` command: create a clinic, serve it, or run a ready-made demo clinic."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import secrets
import sys
from pathlib import Path
from typing import Any

from clinic import service
from clinic.app import Options
from clinic.bus.core import BusError
from clinic.enrollment import create_device
from clinic.errors import ClinicError
from clinic.principals import MemberRole, RoomKind
from clinic.storage import DatabaseError, Storage
from clinic.turn import DEFAULT_TTL_S, IceConfig, read_secret

EXIT_USAGE = 2

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create a clinic, its waiting area and first admin")
    init.add_argument("--db", required=True, help="a SQLite file, or a postgresql:// URL")
    init.add_argument("--clinic", required=True, help="the clinic's name")
    init.add_argument("--admin-email", required=True)
    init.add_argument("--admin-password", required=True, help="at least 12 characters")
    for name, helptext in (("serve", "serve the API, signalling and pages"),
                           ("demo", "serve a demo clinic, created on first use")):  # fmt: skip
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--db", required=True, help="a SQLite file, or a postgresql:// URL")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8080)
        p.add_argument("--public-url", help="base URL clients reach (default: as requested)")
        p.add_argument("--log-level", default="INFO")
        p.add_argument(
            "--redis", metavar="URL",
            help="redis://host:port/N: one of several processes behind a load balancer",
        )  # fmt: skip
        p.add_argument("--stun-url", action="append", default=[], help="stun:host:port")
        p.add_argument(
            "--turn-url", action="append", default=[],
            help="turn:host:3478?transport=udp, turns:host:443?transport=tcp, ...",
        )  # fmt: skip
        p.add_argument(
            "--turn-secret-file",
            type=Path,
            help="the secret shared with the TURN server (coturn static-auth-secret)",
        )
        p.add_argument("--turn-ttl", type=int, default=DEFAULT_TTL_S,
                       help="seconds a TURN credential is valid (default 3600)")  # fmt: skip
        p.add_argument(
            "--trusted-proxy", action="append", default=[], metavar="ADDRESS",
            help="a reverse proxy whose X-Forwarded-For names the client (repeatable)",
        )  # fmt: skip
        p.add_argument(
            "--webhook-network", action="append", default=[], type=ipaddress.ip_network,
            metavar="CIDR", help="a private network alert webhooks may reach (repeatable)",
        )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "init":
        try:
            clinic_id, admin_id = asyncio.run(
                _init(args.db, args.clinic, args.admin_email, args.admin_password)
            )
        except ClinicError as exc:
            print(f"clinic: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except DatabaseError as exc:
            print(f"clinic: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"clinic_id": clinic_id, "admin_member_id": admin_id}))
        return 0
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        ice = IceConfig(
            stun_urls=tuple(args.stun_url),
            turn_urls=tuple(args.turn_url),
            secret=read_secret(args.turn_secret_file) if args.turn_secret_file else b"",
            ttl_s=args.turn_ttl,
        )
    except ValueError as exc:
        print(f"clinic: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.redis is not None and not args.redis.startswith(REDIS_SCHEMES):
        print(f"clinic: --redis wants a URL starting {', '.join(REDIS_SCHEMES)}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "demo":
        demo = _demo(Path(args.db))
        base = args.public_url or f"http://{args.host}:{args.port}"
        _print_demo(demo, base)
    try:
        options = Options(
            public_url=args.public_url,
            ice=ice,
            trusted_proxies=frozenset(args.trusted_proxy),
            webhook_networks=tuple(args.webhook_network),
            redis_url=args.redis,
        )
        asyncio.run(service.serve(args.db, args.host, args.port, options))
    except (DatabaseError, BusError) as exc:
        print(f"clinic: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"clinic: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _init(db: str, name: str, email: str, password: str) -> tuple[str, str]:
    storage = await Storage.open(db)
    try:
        return await service.create_clinic(storage, name, email, password)
    finally:
        await storage.close()


def _demo(db: Path) -> dict[str, Any]:
    """The demo clinic; its generated credentials are kept beside the database."""
    saved = db.with_suffix(".credentials.json")
    if db.exists() and saved.exists():
        loaded: dict[str, Any] = json.loads(saved.read_text())
        return loaded
    db.parent.mkdir(parents=True, exist_ok=True)
    demo = asyncio.run(_create_demo(db))
    saved.write_text(json.dumps(demo, indent=2))
    saved.chmod(0o600)
    return demo


async def _create_demo(db: Path) -> dict[str, Any]:
    admin_password, doctor_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    storage = await Storage.open(db)
    try:
        clinic_id, admin_id = await service.create_clinic(
            storage, "Demo clinic", "admin@demo.clinic", admin_password, "Dr Admin"
        )
        doctor_id = await service.add_member(
            storage, clinic_id, "doctor@demo.clinic", "Dr Demo", MemberRole.TEAM_MEMBER,
            doctor_password,
        )  # fmt: skip
        rooms = {
            "Meeting room 1": await service.add_room(
                storage, clinic_id, RoomKind.MEETING_ROOM, "Meeting room 1", None
            ),
            "Meeting room 2": await service.add_room(
                storage, clinic_id, RoomKind.MEETING_ROOM, "Meeting room 2", None
            ),
            "Dr Demo's room": await service.add_room(
                storage, clinic_id, RoomKind.USER_ROOM, "Dr Demo's room", doctor_id
            ),
        }
        kiosk = await create_device(
            storage,
            clinic_id,
            "Demo kiosk",
            {
                "1": {"action": "join", "room_id": rooms["Meeting room 1"]},
                "2": {"action": "join", "room_id": rooms["Meeting room 2"]},
                "3": {"action": "leave"},
                "4": {"action": "toggle_mute"},
                "5": {"action": "toggle_camera"},
                "6": {"action": "answer_next_patient"},
            },
        )
    finally:
        await storage.close()
    demo = {
        "clinic_id": clinic_id,
        "admin": {"id": admin_id, "email": "admin@demo.clinic", "password": admin_password},
        "doctor": {"id": doctor_id, "email": "doctor@demo.clinic", "password": doctor_password},
        "rooms": rooms,
        "kiosk_enrollment_code": kiosk.enrollment_code,
    }
    return demo


def _print_demo(demo: dict[str, Any], base: str) -> None:
    print(
        f"""
Demo clinic {demo["clinic_id"]}
  clinic admin:  {demo["admin"]["email"]}  password {demo["admin"]["password"]}
  team member:   {demo["doctor"]["email"]}  password {demo["doctor"]["password"]}
  log in:        {base}/   (as the team member, join "Meeting room 1")
  patients:      {base}/enter/{demo["clinic_id"]}
  the kiosk:     buttons 1/2 join Meeting room 1/2, 3 leaves, 4 mutes, 5 camera off,
                 6 answers the next waiting patient
""",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
