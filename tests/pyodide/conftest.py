"""Fixtures for the tests that run Pyodide under Node (``pyodide_host/node/harness.mjs``).

The dist directory is built (or found up to date) by :func:`pyodide_host.build.ensure_dist`;
the tests are skipped only when ``node`` is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyodide_host.build import BuildError, ensure_dist
from pyodide_host.build.node_harness import node_executable


def _require_node() -> None:
    if node_executable() is None:
        pytest.skip("node is not installed: the Pyodide host tests run Pyodide under Node.js")


def _dist(tests: bool) -> Path:
    _require_node()
    try:
        return ensure_dist(tests, quiet=True)
    except BuildError as exc:
        pytest.fail(f"building the Pyodide dist directory failed: {exc}")


@pytest.fixture(scope="session")
def pyodide_dist() -> Path:
    """``build/pyodide/dist``: the runtime, msgspec, micropip and our wheel."""
    return _dist(False)


@pytest.fixture(scope="session")
def pyodide_test_dist() -> Path:
    """``build/pyodide/dist-tests``: the runtime dist plus pytest and the test dependencies."""
    return _dist(True)
