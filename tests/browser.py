"""Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


@contextlib.asynccontextmanager
async def chromium(
    secure_origin: str | None = None, only: tuple[str, ...] | None = None
) -> AsyncIterator[Browser]:
    """``secure_origin``: a plain-HTTP origin off loopback to treat as secure (pages there
    may use the camera and microphone). ``only``: the permissions a person grants (e.g.
    ``("microphone",)``: the camera is refused); by default every prompt is accepted."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (./dev test does)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=[*_flags(only), *_secure(secure_origin)],
            )
            if only is not None:
                await context.grant_permissions(list(only))
            try:
                yield _ContextBrowser(context)  # type: ignore[misc]
            finally:
                await context.close()


def _flags(only: tuple[str, ...] | None) -> list[str]:
    if only is None:
        return FLAGS
    return [f for f in FLAGS if f != "--use-fake-ui-for-media-stream"]  # prompts say no


def _secure(origin: str | None) -> list[str]:
    return [f"--unsafely-treat-insecure-origin-as-secure={origin}"] if origin else []


class _ContextBrowser:
    """Pages in one persistent profile; each `new_page` has its own sessionStorage."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        page.on("pageerror", lambda error: print(f"page error: {error}"))
        return page


async def join_as_guest(page: Page, url: str, name: str) -> None:
    """Through a guest link's form, into its call page."""
    await page.goto(url)
    await page.fill("#name", name)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#call-status")


async def decoded_frames(page: Page) -> list[dict[str, Any]]:
    stats: list[dict[str, Any]] = await page.evaluate("window.callStats ? window.callStats() : []")
    return stats


async def wait_for_video(page: Page, peers: int = 1, frames: int = 10, timeout: float = 30) -> None:
    """Until the page has decoded ``frames`` video frames from each of ``peers`` peers."""
    async with asyncio.timeout(timeout):
        while True:
            stats = await decoded_frames(page)
            if sum(1 for s in stats if s["video_frames_decoded"] >= frames) >= peers:
                return
            await asyncio.sleep(0.25)
