"""Where an alert webhook may point: http(s) to a public address, never into the service's
own network (loopback, private, link-local, multicast, reserved), unless the operator allows
a network by name (`clinic serve --webhook-network`).

Checked when the admin sets the URL and again at every delivery, after resolving: the
connection goes only to addresses that passed, so a name that re-resolves to an internal
address (DNS rebinding) is refused at connect time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TIMEOUT_S = 5.0


class WebhookTargetError(ValueError):
    """A webhook URL that may not be called; the message says why."""


def address_allowed(address: Address, allowed: Sequence[Network] = ()) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return True
    return address.is_global and not address.is_multicast


def check_address(text: str, allowed: Sequence[Network] = ()) -> None:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if not address_allowed(address, allowed):
        raise WebhookTargetError(f"{address} is not a public address")


def _host(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError("only http:// and https:// URLs")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetError("no user or password in the URL")
    if not parts.hostname:
        raise WebhookTargetError("the URL names no host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise WebhookTargetError(f"bad port: {exc}") from None
    return parts.hostname


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


async def check_url(url: str, allowed: Sequence[Network] = ()) -> None:
    """WebhookTargetError unless every address ``url``'s host has now is allowed."""
    host = _host(url)
    if _literal(host) is not None:
        check_address(host, allowed)
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookTargetError(f"{host} does not resolve: {exc.strerror or exc}") from None
    for info in infos:
        check_address(str(info[4][0]), allowed)


class _CheckingResolver(AbstractResolver):
    """Resolves as usual, then refuses the host if any address is not allowed."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._allowed = tuple(allowed)
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            try:
                check_address(result["host"], self._allowed)
            except WebhookTargetError as exc:
                raise OSError(f"{host}: {exc}") from None
        return results

    async def close(self) -> None:
        await self._resolver.close()


class WebhookClient:
    """Posts JSON to webhook URLs: checked targets, no redirects, a short timeout."""

    def __init__(self, allowed: Sequence[Network] = ()) -> None:
        self._allowed = tuple(allowed)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookClient:
        connector = aiohttp.TCPConnector(resolver=_CheckingResolver(self._allowed))
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: dict[str, Any]) -> int:
        """The status the receiver answered; WebhookTargetError, aiohttp.ClientError or
        TimeoutError otherwise."""
        assert self._session is not None, "use `async with WebhookClient()`"
        host = _host(url)
        if _literal(host) is not None:  # aiohttp connects to literals without resolving
            check_address(host, self._allowed)
        async with self._session.post(url, json=body, allow_redirects=False) as response:
            return response.status
