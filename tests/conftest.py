"""Fixtures shared by every test package.

hypothesis is imported here, at start-up, on purpose: its pytest plugin otherwise imports
it at session end, and CPython 3.11.7's AST recursion-depth bug (gh-106905, fixed in
3.11.8) can then crash the assertion rewriter after a test run that used threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import hypothesis  # noqa: F401
import pytest

# the real clinic service fixtures (clinic_server, clinic) for every test package
pytest_plugins = ["tests.clinic_server", "tests.postgres", "tests.redis_server"]


@pytest.fixture(autouse=True)
def _clean_kiosk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KIOSK_* from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.upper().startswith("KIOSK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KIOSK_CONFIG", os.devnull)  # never read /etc/kiosk/kiosk.toml


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """aioice never offers 127.0.0.1: offer it, and only it, for this test."""
    from kiosk.call.ice import restrict_host_addresses

    restrict_host_addresses(["127.0.0.1"])
    yield
    restrict_host_addresses([])


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    """Fails the test if it leaves a thread running."""
    before = set(threading.enumerate())
    yield
    extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in extra:
        thread.join(timeout=2)
    left = [t.name for t in extra if t.is_alive()]
    assert not left, f"threads left running: {left}"


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """A safety net, not a pass: aiortc can leave a receiver's decoder thread running for a
    connection whose remote died mid-negotiation, and the interpreter would wait for it
    forever. Name it, and exit with the real status instead of hanging CI."""
    lingering = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if lingering and _exit_status:
        print(f"\nthreads still running after the tests: {lingering}", flush=True)
        os._exit(_exit_status[0])
