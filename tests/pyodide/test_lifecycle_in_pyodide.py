"""The core's lifecycle tests, run INSIDE Pyodide under Node with the asyncio reader.

pytest (and pytest-asyncio, hypothesis) are loaded into Pyodide from the test dist directory
(``python -m pyodide_host.build --tests``); ``lifecycle`` comes from our wheel; the test files
are mounted from this checkout (NODEFS, at the same paths).  Async tests run on Pyodide's own
event loop (``WebLoop.run_until_complete`` through WebAssembly stack switching).  Tests that
need threads or subprocesses are skipped there with a reason (``tests/lifecycle/harness.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyodide_host.build.node_harness import NodeHarness

pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"

MODULES = (
    "test_protocol.py",
    "test_analysis.py",
    "test_graph.py",
    "test_kernel.py",
    "test_stdin.py",
    "test_ui.py",
    "test_display.py",
    "test_pretty.py",
    "test_notebook.py",
    "test_reactive_property.py",
    "test_streams.py",
    "test_virtual_files.py",
    "test_completion.py",
    "test_packages.py",
)
"""Lifecycle test modules run in Pyodide.  Left out: test_widgets (anywidget and ipywidgets are
not in the dist), test_kernel_integration and test_core_boundary (subprocesses and threads
throughout).  Inside these modules the tests that need threads, subprocesses or shared memory
skip with that reason, and the ``harness`` fixture runs the asyncio reader only."""

MIN_PASSED = 500


def run_lifecycle_tests_in_pyodide(dist: Path, modules: tuple[str, ...] = MODULES) -> dict:
    """Run pytest inside Pyodide under Node; returns the summary from ``inside_pytest.run``."""
    mounts = ["--mount", f"{REPO / 'tests'}:{REPO / 'tests'}", "--mount", f"{REPO / 'examples'}:{REPO / 'examples'}"]
    if CORPUS.is_dir():
        mounts += ["--mount", f"{CORPUS}:{CORPUS}"]
    options = ["--no-session", "--packages", "pytest,pytest-asyncio,hypothesis,jedi", *mounts]
    args = [
        "-p", "no:cacheprovider", "-p", "no:timeout", "-q", "-rs",
        "-W", "ignore::pytest.PytestConfigWarning",
        *(f"tests/lifecycle/{m}" for m in modules),
    ]  # fmt: skip
    with NodeHarness(dist, options, jspi=True) as harness:
        harness.wait_ready(180)
        harness.exec(f"import sys; sys.path.insert(0, {str(REPO)!r})")
        reply = harness.control(
            "call",
            timeout=1500,
            module="tests.pyodide.inside_pytest",
            function="run",
            args=[str(REPO), (REPO / "pyproject.toml").read_text(), args],
        )
    return json.loads(reply["result"])


def test_lifecycle_tests_pass_inside_pyodide(pyodide_test_dist: Path) -> None:
    summary = run_lifecycle_tests_in_pyodide(pyodide_test_dist)
    counts = summary["counts"]
    print(f"\nin-Pyodide pytest ({summary['platform']}, Python {summary['python'].split()[0]}): {counts}")
    for reason, n in sorted(summary["skips"].items()):
        print(f"  skipped {n:3d}: {reason}")
    print(summary["output"][-1500:])
    assert summary["platform"] == "emscripten"
    assert not summary["failures"], "\n\n".join(summary["failures"])[:20000]
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0
    assert summary["exit_code"] == 0, summary["output"][-5000:]
    assert counts.get("passed", 0) > MIN_PASSED, counts
