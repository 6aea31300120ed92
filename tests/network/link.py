"""A box behind a thin uplink: the kiosk runs in a network namespace joined to the test's
by a veth pair; its uplink is throttled by a token bucket (tbf) and loses packets at
random (nftables). This kernel has no netem, so the link adds no fixed delay: the queue
of the token bucket (up to 200 ms) is the delay, as on a congested uplink."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

NAMESPACE = "kiosk-box"
CLINIC_SIDE, BOX_SIDE = "10.77.0.1", "10.77.0.2"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def _in_box(*args: str) -> None:
    _run("ip", "netns", "exec", NAMESPACE, *args)


def _lose_udp(table: str, hook: str, loss_percent: int) -> None:
    """Drop ``loss_percent`` of the box's UDP packets at random on veth-b, going out
    (``output``) or coming in (``input``)."""
    interface = "oifname" if hook == "output" else "iifname"
    _in_box("nft", "add", "table", "inet", table)
    _in_box("nft", "add", "chain", "inet", table, hook,
            f"{{ type filter hook {hook} priority 0; }}")  # fmt: skip
    _in_box("nft", "add", "rule", "inet", table, hook, interface, "veth-b",
            "meta", "l4proto", "udp", "numgen", "random", "mod", "100", "<",
            str(loss_percent), "drop")  # fmt: skip


@dataclass
class Link:
    # nsenter replaces itself with the command (ip netns exec forks, and a kill of its pid
    # would leave the kiosk running)
    prefix: list[str] = field(
        default_factory=lambda: ["nsenter", f"--net=/run/netns/{NAMESPACE}", "--"]
    )
    constrained: bool = False

    def constrain(self, rate: str = "1mbit", loss_percent: int = 2) -> None:
        _in_box("tc", "qdisc", "add", "dev", "veth-b", "root", "tbf",
                "rate", rate, "burst", "16kb", "latency", "200ms")  # fmt: skip
        _lose_udp("impair", "output", loss_percent)
        self.constrained = True

    def lose_incoming(self, loss_percent: int = 2) -> None:
        """The box's downlink loses ``loss_percent`` of its UDP packets, nothing more."""
        _lose_udp("impair-in", "input", loss_percent)

    def lift(self) -> None:
        if self.constrained:
            _in_box("tc", "qdisc", "del", "dev", "veth-b", "root")
            _in_box("nft", "delete", "table", "inet", "impair")
            self.constrained = False


@contextmanager
def box_link() -> Iterator[Link]:
    missing = [tool for tool in ("ip", "tc", "nft", "nsenter") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{missing} missing: apt-get install iproute2 nftables util-linux")
    subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, timeout=30)
    _run("ip", "netns", "add", NAMESPACE)
    try:
        _run("ip", "link", "add", "veth-c", "type", "veth", "peer", "name", "veth-b")
        _run("ip", "link", "set", "veth-b", "netns", NAMESPACE)
        _run("ip", "addr", "add", f"{CLINIC_SIDE}/24", "dev", "veth-c")
        _run("ip", "link", "set", "veth-c", "up")
        _in_box("ip", "addr", "add", f"{BOX_SIDE}/24", "dev", "veth-b")
        _in_box("ip", "link", "set", "veth-b", "up")
        _in_box("ip", "link", "set", "lo", "up")
        yield Link()
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, timeout=30)


@dataclass
class Reception:
    """Frame arrival at a participant, sampled every 50 ms: rates and freezes."""

    times: list[float] = field(default_factory=list)  # one per frame seen, approximately

    def add(self, now: float, new_frames: int) -> None:
        self.times.extend([now] * new_frames)

    def fps(self, start: float, end: float) -> float:
        return sum(1 for t in self.times if start <= t < end) / (end - start)

    def longest_freeze(self, start: float, end: float) -> float:
        inside = [start, *(t for t in self.times if start <= t < end), end]
        return max(b - a for a, b in itertools.pairwise(inside))

    def freezes(self, start: float, end: float, longer_than: float = 1.0) -> int:
        inside = [start, *(t for t in self.times if start <= t < end), end]
        return sum(1 for a, b in itertools.pairwise(inside) if b - a > longer_than)
