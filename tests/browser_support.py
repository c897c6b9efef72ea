"""Driving Debian's Chromium with Playwright for the browser tests (no browser download: CI installs it).

``chromium_page()`` yields a page and an :class:`Activity` that records every request,
JavaScript error and console error, so a test can assert that a page is offline and clean.
Screenshots go to ``test-artifacts/`` at the repository root (kept out of git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, expect, sync_playwright

from conftest import PATIENCE

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
"""Where the browser tests leave their screenshots."""

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
"""Chromium run as root in a container with no network: no sandbox, and none of its own background traffic."""

PATIENCE_MS = int(PATIENCE * 1000)
"""conftest's PATIENCE for a page's waits (an element, a redraw, a download), in Playwright's milliseconds
(its own default is 30 s)."""


def chromium_path() -> str:
    """The Chromium binary: $TRUSTSIM_CHROMIUM, else Debian's; a missing browser fails the test, never skips it."""
    found = os.environ.get("TRUSTSIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-headless-shell")
    if not found:
        raise RuntimeError("Chromium not found: install Debian's chromium (.ci/run does) or set TRUSTSIM_CHROMIUM")
    return found


@dataclass
class Activity:
    """What a page did: the URLs it requested and the errors it raised or logged."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self, allowed: tuple[str, ...] = ("file://",), hosts: tuple[str, ...] = ()) -> list[str]:
        """Requests that left the machine: not to ``allowed`` URL prefixes, ``data:``/``blob:``, or ``hosts``."""
        local = {"127.0.0.1", "localhost", "::1", *hosts}
        return [
            url
            for url in self.requests
            if not url.startswith((*allowed, "data:", "blob:")) and urlparse(url).hostname not in local
        ]


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Page, Activity]]:
    """A fresh headless Chromium page whose requests and errors are recorded."""
    activity = Activity()
    expect.set_options(timeout=PATIENCE_MS)  # expect(locator).to_have_text(...) waits as long as the page does
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS,
                                             timeout=PATIENCE_MS)  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
            page.set_default_timeout(PATIENCE_MS)
            page.on("request", lambda request: activity.requests.append(request.url))
            page.on("pageerror", lambda error: activity.errors.append(f"page error: {error}"))
            page.on("console", lambda message: activity.errors.append(f"console: {message.text}")
                    if message.type == "error" else None)  # fmt: skip
            yield page, activity
        finally:
            browser.close()
