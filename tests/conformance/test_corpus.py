"""Every corpus notebook, run top to bottom by each host runner, matches its reference cell by
cell (stdout/stderr text, ``text/plain`` of results and displays, exception type of errors;
normalisation as documented in :mod:`tests.conformance.corpus`).

Hosts: the subprocess host on CPython 3.10-3.13 (each against its own version's reference) and
the Pyodide host under Node.js (Python 3.14, against the canonical 3.12 reference, with the
version-dependent cells listed below).  A Pyodide cell that cannot match because of the
platform itself is an expected failure, listed with the exact difference
(:data:`PYODIDE_PLATFORM_LIMITS`), never a pass."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conformance.conftest import ConformanceSession
from tests.conformance.corpus import (
    Comparison,
    CorpusNotebook,
    PlatformLimit,
    code_cells,
    compare,
    invariant_problems,
    normalise_plain,
    normalise_stream,
    read_ipynb,
    version_dependent_cells,
)
from tests.conformance.runners import REPO, PyodideRunner, SubprocessRunner, kernel_python

# ------------------------------------------------------------------------------------------
# Pyodide is Python 3.14, compared with the canonical 3.12 reference.  A cell may differ there
# only where the CPython references already differ between versions, and only if listed here
# with the reason.  For a listed cell the test still checks that the CPython references do
# differ for it, that it does differ in Pyodide (else the entry is stale), and that Pyodide
# keeps everything that does not vary between the versions: the output kinds, the texts that
# are the same in every version (exception types included), and the lines every version's
# text has -- except the lines an entry names as changed by 3.14 itself, which must then be
# absent from Pyodide's text.


@dataclass(frozen=True)
class VersionDependent:
    reason: str
    changed_in_3_14: tuple[str, ...] = ()
    """Lines every CPython reference has that Python 3.14 prints differently."""


_CARETS = VersionDependent(
    "traceback carets: 3.10 prints none, 3.11 and 3.12 underline the failing call with a ^^^ line, "
    "3.13+ leave the line out where it would underline the whole statement (and the TypeError "
    "wording for abstract classes changed in 3.12)"
)
PYODIDE_VERSION_DEPENDENT: dict[tuple[str, int], VersionDependent] = {
    ("gjbex_abstract_classes", 2): _CARETS,
    ("gjbex_abstract_classes", 9): _CARETS,
    ("lp3_01_strings", 5): VersionDependent(
        "help(str.replace): pydoc's signature line reads '(self, old, new, /, count=-1) unbound "
        "builtins.str method' since 3.13, blank docstring lines lost their indentation in 3.12, and "
        "3.14 heads the page 'Help on method descriptor replace:'",
        changed_in_3_14=("Help on method_descriptor:",),
    ),
}
"""``(notebook, code-cell index) -> why it differs``."""


PYODIDE_PLATFORM_LIMITS: dict[tuple[str, int], PlatformLimit] = {
    ("lp3_12_exceptions", 1): PlatformLimit(
        "errno numbers are Emscripten's (WASI numbering): ENOENT is 44 in Pyodide, 2 on Linux, so "
        "printing a FileNotFoundError shows '[Errno 44] No such file or directory'; the exception type "
        "and the message are the same, and no runtime can change the platform's errno values",
        (("[Errno 44]", "[Errno 2]"),),
    ),
}
"""``(notebook, code-cell index) -> limit``: expected failures, reported in the test outcome."""


T = TypeVar("T")


def _listed(table: dict[tuple[str, int], T], name: str) -> dict[int, T]:
    return {cell: value for (nb, cell), value in table.items() if nb == name}


def _listing_problems(nb: CorpusNotebook, cells: dict[int, VersionDependent]) -> list[str]:
    """Listed cells whose CPython references do not differ between versions."""
    dependent = version_dependent_cells(nb)
    return [
        f"{nb.name} cell {cell} is listed in PYODIDE_VERSION_DEPENDENT, but its CPython references "
        f"({', '.join(sorted(nb.references))}) do not differ between versions: the listing is rejected"
        for cell in sorted(set(cells) - dependent)
    ]


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
    pyodide = isinstance(runner, PyodideRunner)
    listed = _listed(PYODIDE_VERSION_DEPENDENT, name) if pyodide else {}
    limits = _listed(PYODIDE_PLATFORM_LIMITS, name) if pyodide else {}
    assert not _listing_problems(nb, listed), _listing_problems(nb, listed)
    outcome = conformance.top_outcome(label, name)
    cmp = compare(name, nb.sources(), nb.reference_items(runner.reference_version), outcome.items, set(listed))
    conformance.comparisons[(label, name)] = cmp
    assert not outcome.kernel_errors, f"{name} on {label}: kernel errors {outcome.kernel_errors}"
    expected_label, actual_label = f"reference/{runner.reference_version}", label
    # Listed version-dependent cells: they differ, and keep what does not vary.
    per_version = {v: nb.reference_items(v) for v in sorted(nb.references)}
    problems = []
    for mismatch in cmp.allowed:
        cells = [items[mismatch.cell] for items in per_version.values() if mismatch.cell < len(items)]
        entry = listed[mismatch.cell]
        found = invariant_problems(cells, mismatch.actual, entry.changed_in_3_14)
        if found:
            problems.append(f"{mismatch.report(expected_label, actual_label)}  listed as version-dependent "
                            f"({entry.reason}), but:\n" + "".join(f"    {p}\n" for p in found))  # fmt: skip
    stale = sorted(set(listed) - {m.cell for m in cmp.allowed})
    assert not stale, f"{name} cells {stale} are listed in PYODIDE_VERSION_DEPENDENT but match exactly: remove them"
    assert not problems, "\n".join(problems)
    conformance.notes += [
        f"{label}: {name} cell {m.cell} differs, version-dependent: {listed[m.cell].reason}" for m in cmp.allowed
    ]
    # Everything else matches, apart from documented platform limits (expected failures).
    unexplained = [m for m in cmp.mismatches if not (m.cell in limits and limits[m.cell].explains(m))]
    shown = Comparison(cmp.notebook, cmp.cells, cmp.matched, unexplained)
    assert shown.ok, shown.report(expected_label, actual_label)
    stale = sorted(set(limits) - {m.cell for m in cmp.mismatches})
    assert not stale, f"{name} cells {stale} are listed in PYODIDE_PLATFORM_LIMITS but match: remove them"
    if cmp.mismatches:
        why = "; ".join(f"{name} cell {m.cell}: {limits[m.cell].reason}" for m in cmp.mismatches)
        conformance.notes.append(f"{label}: expected failure (platform limit): {why}")
        pytest.xfail(why)


@pytest.mark.timeout(60)
def test_listed_pyodide_cells_are_version_dependent(conformance: ConformanceSession) -> None:
    """PYODIDE_VERSION_DEPENDENT may only name cells whose CPython references already differ
    between versions (checked for the notebooks of the corpus in use)."""
    corpus = conformance.corpus
    assert corpus is not None
    names = {nb.name for nb in corpus.notebooks}
    problems = []
    for name in sorted({nb for nb, _ in PYODIDE_VERSION_DEPENDENT} & names):
        problems += _listing_problems(corpus.get(name), _listed(PYODIDE_VERSION_DEPENDENT, name))
    assert not problems, "\n".join(problems)
    overlap = set(PYODIDE_VERSION_DEPENDENT) & set(PYODIDE_PLATFORM_LIMITS)
    assert not overlap, f"listed twice: {sorted(overlap)}"


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
    pyodide = conformance.runners["pyodide"]
    assert isinstance(pyodide, PyodideRunner) and pyodide.reference_version == "3.12"


@pytest.mark.timeout(30)
def test_default_corpus_location() -> None:
    from tests.conformance.conftest import DEFAULT_CORPUS

    assert Path(__file__).resolve().parents[2].parent / "shared" / "corpus" == DEFAULT_CORPUS
