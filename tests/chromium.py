"""Debian's Chromium driven by Python playwright, shared by the browser test packages
(``tests/e2e``, ``tests/browser``, ``tests/islands``).

Chromium comes from ``web/scripts/install-chromium.sh`` (never ``playwright install``).
Playwright's sync API keeps an asyncio loop running in the calling thread while it lives, so
every package starts its own Chromium through :func:`chromium_browser` in a *package*-scoped
fixture: the loop is gone before later asyncio tests (tests/lifecycle, tests/pyodide) run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
"""Launch flags (the project's rule set plus two that keep a headless run quiet)."""

CALL_FAILED = pytest.StashKey[list]()
"""Per test item: whether its ``call`` phase failed (set by ``tests/conftest.py``), so a
page fixture can leave a screenshot of a failing test."""


def test_failed(request: pytest.FixtureRequest) -> bool:
    """True when the test of ``request`` failed in its call phase (for fixture teardown)."""
    return any(request.node.stash.get(CALL_FAILED, []))


test_failed.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Start playwright and launch Debian's ``chromium`` headless; yields a playwright
    ``Browser`` and closes both on exit.

    Fails the calling test (``pytest.fail``) when no ``chromium`` is on PATH: the set-up
    script installs it, so its absence is a broken machine, not a reason to skip.
    """
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run web/scripts/install-chromium.sh")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
