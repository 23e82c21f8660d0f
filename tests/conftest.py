"""Hooks for the whole test suite."""

from __future__ import annotations

import pytest

from tests.chromium import CALL_FAILED


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Record each call-phase outcome (:func:`tests.chromium.test_failed` reads it)."""
    report = yield
    if report.when == "call":
        item.stash.setdefault(CALL_FAILED, []).append(report.failed)  # type: ignore[arg-type]
    return report
