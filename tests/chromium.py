"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

No browser is downloaded: Playwright's Python package is pointed at the system binary with
``executable_path``. Where either is missing, :func:`skip_reason` says which and how to get it,
and the tests that need a browser skip with that reason (``make test`` installs Chromium where
it runs as root, so CI runs them).

Screenshots go to the test's ``tmp_path``; with ``STREAMREPLAY_SCREENSHOTS=DIR`` (e.g.
``docs/images``) they are also copied there, so a normal run never rewrites tracked files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ARGS",
    "CHROMIUM",
    "SCREENSHOTS_ENV",
    "desktop_context",
    "launched",
    "requires_chromium",
    "screenshot",
    "skip_reason",
    "wait_until",
    "watched_page",
]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # a test's proxy variables must not reroute the browser
]
SCREENSHOTS_ENV = "STREAMREPLAY_SCREENSHOTS"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: apt-get install chromium (make test does, as root)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install --group dev"
    return None


requires_chromium = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
"""Mark a test module or test that needs the browser."""


@contextlib.contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards; skips without one."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def desktop_context(browser: Any, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A desktop-sized browser context (1400x1000 unless told), closed afterwards (one per
    module: the pages' scripts, plotly.min.js among them, are fetched and compiled once)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context
    finally:
        context.close()


@contextlib.contextmanager
def watched_page(context: Any, origin: str, timeout_ms: int = 15_000) -> Iterator[Any]:
    """A page that fails the test on a script error or on any request off ``origin``
    (everything must be served locally: no CDN)."""
    page = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((origin.rstrip("/") + "/", "data:", "blob:", "about:"))
            else elsewhere.append(request.url)
        ),
    )
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        page.close()
    assert errors == [], errors
    assert elsewhere == [], f"requests off the local server: {elsewhere}"


def screenshot(page: Any, name: str, tmp_path: Path, *, min_bytes: int = 20_000) -> Path:
    """Save a PNG of the page in ``tmp_path`` (and in ``$STREAMREPLAY_SCREENSHOTS`` if set);
    asserts it is a PNG of some substance (a blank page is a few kilobytes)."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=False)
    data = shot.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > min_bytes, (name, len(data))
    target_dir = os.environ.get(SCREENSHOTS_ENV)
    if target_dir:
        target = Path(target_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


def wait_until(page: Any, expression: str, timeout_ms: int = 15_000) -> Any:
    """Poll a JavaScript expression until it is truthy; returns its value.

    ``page.wait_for_function`` compiles its predicate with ``new Function`` inside the page,
    which a Content-Security-Policy without ``'unsafe-eval'`` (the dashboard's) forbids;
    ``page.evaluate`` runs through the DevTools protocol and is allowed.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(50)
