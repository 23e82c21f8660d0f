"""The Pyodide worker's message entry point under Node, fuzzed (see tests/fuzz/node.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyodide_host.build import BuildError, ensure_dist
from pyodide_host.build.node_harness import node_executable
from tests.fuzz.checks import assert_rate_limited, assert_survived
from tests.fuzz.node import fuzz_worker
from tests.fuzz.report import CI_CASES, FuzzReport


@pytest.fixture(scope="module")
def dist() -> Path:
    if node_executable() is None:
        pytest.skip("node is not installed: the Pyodide host runs under Node.js")
    try:
        return ensure_dist(False, quiet=True)
    except BuildError as exc:
        pytest.fail(f"building the Pyodide dist directory failed: {exc}")


@pytest.mark.timeout(900)
def test_worker_entry_point_survives_fuzzing(dist: Path) -> None:
    report = fuzz_worker(dist, CI_CASES)
    print("\n" + FuzzReport.header(), report.row(), report.notes, sep="\n")
    assert_survived(report, CI_CASES)
    assert report.notes["exit_code"] == 0
    assert report.notes["kernel_total"] == report.notes["expected_total"], report.notes
    assert_rate_limited(report.notes["bad_frame_reports"], report.bad)  # type: ignore[arg-type]
