"""The scientific-stack corpus (``../shared/corpus-sci``: numpy, pandas, matplotlib, scipy,
scikit-learn notebooks with references from a real Jupyter kernel) run through the subprocess
host on the ``make sci-venv`` interpreter, compared cell by cell as the corpus README says
(:mod:`tests.conformance.sci`, :mod:`tests.conformance.sci_session`).  Skipped, with the
reason, when the corpus or the venv is missing.  The table (cells matched, figures shown,
seconds) is in the terminal summary; every cell that does not match, with the diff of its
views, in ``test-artifacts/conformance-sci/report.md``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conformance.corpus import Corpus, code_cells, read_ipynb
from tests.conformance.sci import (
    MAX_RUNS,
    TIMING,
    cell_view,
    compare_runs,
    is_sci_corpus,
    load_sci_corpus,
    reference_outputs,
    render_view,
    timing_lines,
    view_shape,
    wants_rerun,
)
from tests.conformance.sci_session import SciRunner, SciSession, scratch_dir


def _compare_views(corpus: Corpus) -> ModuleType | None:
    """The corpus's own ``compare_views.py`` (data shipped with the corpus), if it has one."""
    path = corpus.root / "compare_views.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("corpus_compare_views", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(source: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": outputs}


# Timeout: the conftest's bound for the whole batch (the first case runs it).
def test_sci_notebook_matches_reference(sci_conformance: SciSession, sci_case: str) -> None:
    nb = sci_conformance.corpus.get(sci_case)  # type: ignore[union-attr]
    if not nb.references:
        pytest.skip(f"no reference/{nb.path.name}")
    outcome = sci_conformance.outcome(sci_case)
    errors = [e for run in outcome.runs for e in run.kernel_errors]
    assert not errors, f"{sci_case}: kernel errors {errors}"
    # Our views are the corpus's own compare_views.view of our outputs.
    module = _compare_views(sci_conformance.corpus)  # type: ignore[arg-type]
    if module is not None:
        sources = nb.sources()
        for index, outputs in enumerate(outcome.runs[0].outputs):
            assert module.view(_cell(sources[index], outputs)) == outcome.comparison.cells[index].actual, index
    cmp = outcome.comparison
    assert not cmp.failures, cmp.report()


@pytest.mark.timeout(60)
def test_views_are_the_corpus_compare_views(sci_conformance_corpus: Corpus) -> None:
    """:func:`cell_view` computes what the corpus's ``compare_views.view`` computes, on every
    reference cell (its own statement of the comparison)."""
    module = _compare_views(sci_conformance_corpus)
    if module is None:
        pytest.skip(f"no compare_views.py in {sci_conformance_corpus.root}")
    cells = 0
    for nb in sci_conformance_corpus.notebooks:
        if nb.references:
            for cell in code_cells(read_ipynb(next(iter(nb.references.values())))):
                assert cell_view("".join(cell["source"]), cell["outputs"]) == module.view(cell), (nb.name, cell["source"])
                cells += 1
    assert cells


@pytest.mark.timeout(60)
def test_sci_corpus_layout(sci_conformance_corpus: Corpus) -> None:
    corpus = sci_conformance_corpus
    assert is_sci_corpus(corpus.root) and corpus.notebooks
    for nb in corpus.notebooks:
        assert nb.references, f"{nb.name}: no reference"
        ref = read_ipynb(next(iter(nb.references.values())))
        assert [c["source"] for c in code_cells(ref)] == [c["source"] for c in code_cells(read_ipynb(nb.path))], nb.name
        assert all(not c.get("outputs") for c in code_cells(read_ipynb(nb.path))), f"{nb.name}: outputs not cleared"


# ------------------------------------------------------------------------- the rules themselves

FIG = {"output_type": "display_data", "metadata": {},
       "data": {"image/png": "iVBOR", "text/plain": "<Figure size 640x480 with 1 Axes>"}}  # fmt: skip


def _out(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def _result(plain: str, **more: str) -> dict[str, Any]:
    return {"output_type": "execute_result", "metadata": {}, "data": {"text/plain": plain, **more}}


@pytest.mark.timeout(30)
def test_cell_view() -> None:
    outputs = [
        _out(["a <X object at 0x7f00>", "\n"]), _out("warn\n", "stderr"), _out("\x1b[31mb\x1b[0m  c\n"),
        _result("   A   B\n0  1   2", **{"text/html": "<table/>"}), FIG,
        {"output_type": "error", "ename": "ValueError", "evalue": "v", "traceback": []},
    ]  # fmt: skip
    assert cell_view("x", outputs) == {
        "stdout": "a <X object at 0xADDR>\nb  c\n", "results": ["A B 0 1 2", "<Figure size 640x480 with 1 Axes>"],
        "images": 1, "html": 1, "errors": ["ValueError"],
    }  # fmt: skip
    # Timing cells: stdout and results are placeholders; the timing lines are counted apart.
    timed = [_out("1.06 ms ± 91 μs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)\n"), _result("1")]
    assert cell_view("%timeit f()", timed) == {"stdout": TIMING, "results": [TIMING], "images": 0, "html": 0, "errors": []}
    assert cell_view("%%time\nf()", []) == {"stdout": TIMING, "results": [], "images": 0, "html": 0, "errors": []}
    assert timing_lines(timed) == 1
    assert timing_lines([_out("CPU times: user 1 ms, sys: 0 ns, total: 1 ms\nWall time: 2.1 ms\n")]) == 1
    assert timing_lines([_out("8 ns ± 0 ns per loop (mean ± std. dev. of 1 run, 1 loop each)\n")]) == 1
    assert timing_lines([_out("1 loop each\n")]) == 0
    # What the reports show: \r and other control characters visibly.
    assert "stdout: a\\r" in render_view(cell_view("!cat f", [_out("a\r\nb\n")]))


@pytest.mark.timeout(30)
def test_compare_runs_statuses_and_figures() -> None:
    sources = ["plt.plot(x);", "x", "print(rng.random())", "%timeit f()", "rng.random()"]
    line = "5 ns ± 1 ns per loop (mean ± std. dev. of 7 runs, 100,000,000 loops each)\n"
    expected = [[FIG], [_result("array([1, 2])")], [_out("0.25\n")], [_out(line)], [_result("0.5")]]
    first = [[], [_result("array([1, 3])")], [_out("0.75\n")], [], [_result("'0.5'")]]
    cmp = compare_runs("nb", sources, expected, [first])
    assert [c.status for c in cmp.cells] == ["mismatch"] * 5
    assert (cmp.figures_expected, cmp.figures_shown, cmp.matched) == (1, 0, 0)
    assert "0 timing lines, the reference has 1" in cmp.cells[3].reason
    assert wants_rerun(cmp, 1) and not wants_rerun(cmp, MAX_RUNS)
    # A second run: cells whose view changed are nondeterministic; they pass when their
    # shape (numbers masked, whitespace removed) is the reference's.
    second = [[], [_result("array([1, 3])")], [_out("0.5\n")], [_out(line)], [_result("'0.7'")]]
    cmp = compare_runs("nb", sources, expected, [first, second])
    assert [c.status for c in cmp.cells] == ["mismatch", "mismatch", "nondeterministic", "mismatch", "nondeterministic"]
    assert [c.cell for c in cmp.failures] == [0, 1, 3, 4]  # cell 4 prints a str, the reference a number
    assert view_shape(cmp.cells[2].actual) == view_shape(cmp.cells[2].expected)
    assert "cell 1" in cmp.report() and "-result: array([1, 2])" in cmp.report()
    assert cmp.cells[1].differences() == "differs: results"
    # The first run decides the match and the figures.
    cmp = compare_runs("nb", sources, expected, [second, first])
    assert [c.status for c in cmp.cells[:4]] == ["mismatch", "mismatch", "nondeterministic", "match"]
    assert [c.cell for c in cmp.failures] == [0, 1, 4]
    third = [[FIG, FIG], *second[1:3], [_out(line)], [_result("0.5")]]
    cmp = compare_runs("nb", sources, expected, [third])
    assert (cmp.figures_shown, cmp.matched, [c.cell for c in cmp.failures]) == (1, 2, [0, 1, 2])


@pytest.mark.timeout(30)
def test_layout_detection_scratch_dir_and_missing_venv(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,b\n")
    nb = {"cells": [{"cell_type": "code", "source": "1", "outputs": [], "metadata": {}}], "metadata": {},
          "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    (tmp_path / "notebooks" / "n.ipynb").write_text(json.dumps(nb))
    assert not is_sci_corpus(tmp_path)
    (tmp_path / "reference" / "n.ipynb").write_text(json.dumps(nb))
    assert is_sci_corpus(tmp_path)
    corpus = load_sci_corpus(tmp_path)
    assert [n.name for n in corpus.notebooks] == ["n"] and reference_outputs(corpus.notebooks[0]) == [[]]
    with scratch_dir(corpus) as cwd:
        assert (Path(cwd) / "data" / "d.csv").read_text() == "a,b\n"
    with pytest.raises(FileNotFoundError):
        load_sci_corpus(tmp_path / "data")
    runner = SciRunner(venv=tmp_path / "no-venv")
    assert runner.python is None and "make sci-venv" in (runner.unavailable() or "")
    assert runner.label == "sci-3.12"
