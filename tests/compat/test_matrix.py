"""One test per interpreter x scenario of the IPC compatibility matrix (``tests/compat``);
the table itself: ``python -m tests.compat`` (or ``build/compat/last-summary.txt``)."""

from __future__ import annotations

import pytest

from tests.compat.envs import PYTHONS
from tests.compat.matrix import PYODIDE, SCENARIO_KEYS, Matrix, oldest_msgspec
from tests.compat.scenarios import SCENARIO_TITLES

pytestmark = pytest.mark.timeout(1200)  # the first item runs the whole matrix (a cold cache builds venvs)

CELLS = [(k, s) for k in (*PYTHONS, PYODIDE) for s in SCENARIO_KEYS if not (k == PYODIDE and s == "11")]


@pytest.mark.parametrize(("kernel", "scenario"), CELLS,
                         ids=[f"{'py' + k.rsplit('.', 1)[0] if k != PYODIDE else k}-s{s}" for k, s in CELLS])
def test_cell(compat_matrix: Matrix, kernel: str, scenario: str) -> None:
    ok, why = compat_matrix.cell(kernel, scenario)
    assert ok, f"{kernel} scenario {scenario} ({SCENARIO_TITLES[scenario]}): {why}"


def test_every_host_is_another_interpreter(compat_matrix: Matrix) -> None:
    main = [r for r in compat_matrix.runs if r.label == "main" and r.kernel != PYODIDE]
    assert len(main) == 2 * len(PYTHONS)
    for run in main:
        assert run.host != run.kernel and run.host.count(".") == 2, (run.kernel, run.host)


@pytest.mark.parametrize("version", PYTHONS)
def test_skew_runs_use_the_declared_oldest_msgspec(compat_matrix: Matrix, version: str) -> None:
    (skew,) = [r for r in compat_matrix.runs if r.kernel == version and r.label == "skew-kernel"]
    declared = oldest_msgspec(version)
    installed = skew.msgspec.split()[1]
    assert installed.split(".")[:2] == declared.split(".")[:2] and installed.startswith(declared), (installed, declared)
