"""Every corpus notebook, run top to bottom by each host runner, matches its reference cell by
cell (stdout/stderr text, ``text/plain`` of results and displays, exception type of errors;
normalisation as documented in :mod:`tests.conformance.corpus`)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conformance.conftest import ConformanceSession
from tests.conformance.corpus import (
    code_cells,
    normalise_plain,
    normalise_stream,
    read_ipynb,
    version_dependent_cells,
)
from tests.conformance.runners import ALLOWED_DIFFERENCES, REPO, SubprocessRunner, kernel_python


@pytest.mark.timeout(900)  # the first case runs the session's batch of kernels
def test_notebook_matches_reference(conformance: ConformanceSession, conformance_case: tuple[str, str]) -> None:
    label, name = conformance_case
    runner = conformance.runners[label]
    reason = runner.unavailable()
    if reason:
        pytest.skip(reason)
    nb = conformance.corpus.get(name)  # type: ignore[union-attr]
    if runner.reference_version not in nb.references:
        pytest.skip(f"no reference/{runner.reference_version}/{nb.path.name}")
    outcome = conformance.top_outcome(label, name)
    from tests.conformance.corpus import compare

    allowed = ALLOWED_DIFFERENCES.get(runner.host, {}).get(name, frozenset())
    cmp = compare(name, nb.sources(), nb.reference_items(runner.reference_version), outcome.items, allowed)
    conformance.comparisons[(label, name)] = cmp
    assert not outcome.kernel_errors, f"{name} on {label}: kernel errors {outcome.kernel_errors}"
    assert cmp.ok, cmp.report(f"reference/{runner.reference_version}", label)


@pytest.mark.timeout(60)
def test_allowed_differences_are_version_dependent(conformance: ConformanceSession) -> None:
    """The exception list of hosts without a reference of their own may only name cells
    whose CPython references already differ between versions."""
    for host, per_notebook in ALLOWED_DIFFERENCES.items():
        for name, cells in per_notebook.items():
            nb = conformance.corpus.get(name)  # type: ignore[union-attr]
            extra = set(cells) - version_dependent_cells(nb)
            assert not extra, f"{host}: {name} cells {sorted(extra)} are not version-dependent"


@pytest.mark.timeout(60)
def test_corpus_layout(conformance: ConformanceSession) -> None:
    corpus = conformance.corpus
    assert corpus is not None and corpus.notebooks
    for nb in corpus.notebooks:
        assert nb.references, f"{nb.name}: no reference at all"
        for version, path in nb.references.items():
            ref = read_ipynb(path)
            assert [c.get("source") for c in code_cells(ref)] == [c.get("source") for c in code_cells(read_ipynb(nb.path))], (
                f"{path}: code cells differ from {nb.path}"
            )
            assert version in corpus.versions


def _smallest_clean_notebook(conformance: ConformanceSession, version: str) -> tuple[str, list[str]]:
    """The smallest notebook whose reference has no error output; its expected pieces."""
    corpus = conformance.corpus
    assert corpus is not None
    for nb in sorted(corpus.notebooks, key=lambda n: (n.path.stat().st_size, n.name)):
        if version not in nb.references:
            continue
        items = [item for cell in nb.reference_items(version) for item in cell]
        if items and all(kind != "error" for kind, _ in items):
            return nb.name, [text for _, text in items]
    pytest.skip("no notebook without errors in the corpus")


@pytest.mark.timeout(120)
def test_amphi_execute_cli_prints_the_reference_text(conformance: ConformanceSession) -> None:
    """The command of the issue, end to end: ``amphi execute --format text`` prints every
    expected output, in order, and exits 0."""
    version = next((v for v in ("3.12", "3.13", "3.11", "3.10") if kernel_python(v)), None)
    if version is None:
        pytest.skip("no kernel interpreter")
    name, expected = _smallest_clean_notebook(conformance, version)
    nb = conformance.corpus.get(name)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="amphi-conformance-") as cwd:
        proc = subprocess.run(
            [sys.executable, "-m", "subprocess_host.cli", "execute", str(nb.path), "--format", "text",
             "--cwd", cwd, "--python", str(kernel_python(version)), "--timeout", "90"],
            capture_output=True, text=True, timeout=110, cwd=REPO,
        )
    assert proc.returncode == 0, proc.stderr
    printed = normalise_plain(normalise_stream(proc.stdout))
    pos = 0
    for piece in expected:
        found = printed.find(normalise_plain(piece), pos)
        assert found >= 0, f"{name}: {piece!r} not printed (after offset {pos}):\n{proc.stdout}"
        pos = found + len(normalise_plain(piece))
    assert len(re.findall(r"^── \[", proc.stdout, re.MULTILINE)) == len(nb.sources())


@pytest.mark.timeout(30)
def test_runner_labels_are_unique(conformance: ConformanceSession) -> None:
    labels = list(conformance.runners)
    assert len(labels) == len(set(labels))
    assert {f"cpython-{v}" for v in ("3.10", "3.11", "3.12", "3.13")} <= set(labels)
    assert all(isinstance(conformance.runners[f"cpython-{v}"], SubprocessRunner) for v in ("3.10", "3.12"))


@pytest.mark.timeout(30)
def test_default_corpus_location() -> None:
    from tests.conformance.conftest import DEFAULT_CORPUS

    assert Path(__file__).resolve().parents[2].parent / "shared" / "corpus" == DEFAULT_CORPUS
