"""The browser tests here (a package of their own: the playwright loop of its package-scoped
Chromium must be gone before the asyncio tests of tests/security run) reuse the end-to-end fixtures (Debian's Chromium, ``amphi edit|run``)."""

from tests.e2e.conftest import browser, context, page, serve  # noqa: F401
