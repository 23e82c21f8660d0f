"""The IPC compatibility matrix under pytest: the whole matrix runs once per session (the
``compat_matrix`` fixture), each interpreter x scenario is one test item."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.envs import CACHE
from tests.compat.matrix import Matrix, run_matrix, summary


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.compat)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "compat: the IPC compatibility matrix (python -m tests.compat)")


@pytest.fixture(scope="session")
def compat_matrix() -> Matrix:
    """Every run of the matrix (built wheel, per-interpreter venvs, Pyodide, Chromium)."""
    matrix = run_matrix()
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "last-summary.txt").write_text(summary(matrix) + "\n")
    print("\n" + summary(matrix))
    return matrix
