"""nbclient (the Jupyter project's notebook executor) runs every notebook of the conformance
corpora with our kernel, and the outputs compare to the references exactly as the conformance
suite compares them (:mod:`tests.conformance.corpus` for ``../shared/corpus``,
:mod:`tests.conformance.sci` for ``../shared/corpus-sci``).

``../shared/corpus`` runs on the ``amphi`` kernelspec (this interpreter, CPython 3.12: compared
with ``reference/3.12``); ``../shared/corpus-sci`` on ``amphi-sci`` (the kernel on
``.venv-kernels/sci-3.12``), rerun like the conformance suite reruns it to tell nondeterministic
cells.  As for the references: ``allow_errors=True``, a scratch working directory per run
(holding a copy of ``data/`` for the scientific corpus)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.corpus import Corpus, cell_items, compare, load_corpus
from tests.conformance.runners import REPO
from tests.conformance.sci import (
    SCI_VERSION,
    compare_runs,
    load_sci_corpus,
    reference_outputs,
    wants_rerun,
)
from tests.conformance.sci_session import scratch_dir
from tests.jupyter.conftest import sci_python

CORPUS = REPO.parent / "shared" / "corpus"
SCI_CORPUS = REPO.parent / "shared" / "corpus-sci"
REFERENCE = "3.12"
"""The ``amphi`` kernel's interpreter is this one (CPython 3.12)."""
CELL_TIMEOUT = 240
"""Seconds nbclient allows one cell (2 shared cores)."""


def _load(root: Path, loader: Any) -> Corpus | None:
    try:
        return loader(root)
    except (FileNotFoundError, OSError):
        return None


_corpus = _load(CORPUS, load_corpus)
_sci = _load(SCI_CORPUS, load_sci_corpus)


def run_with_nbclient(path: Path, kernel_name: str, cwd: Path) -> list[list[dict[str, Any]]]:
    """Execute the notebook at ``path`` with nbclient; per code cell, its nbformat outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel_name, allow_errors=True, timeout=CELL_TIMEOUT,
                            startup_timeout=120, resources={"metadata": {"path": str(cwd)}})  # fmt: skip
    client.execute()
    return [list(cell.outputs) for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", [nb.name for nb in _corpus.notebooks] if _corpus else [])
def test_corpus_notebook_matches_reference(name: str) -> None:
    assert _corpus is not None
    nb = _corpus.get(name)
    if REFERENCE not in nb.references:
        pytest.skip(f"no reference/{REFERENCE}/{nb.path.name}")
    with tempfile.TemporaryDirectory(prefix="amphi-jupyter-corpus-") as cwd:
        outputs = run_with_nbclient(nb.path, "amphi", Path(cwd))
    cmp = compare(name, nb.sources(), nb.reference_items(REFERENCE), [cell_items(o) for o in outputs])
    assert cmp.ok, cmp.report(f"reference/{REFERENCE}", "nbclient + amphi")
    assert cmp.matched == len(nb.sources())


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", [nb.name for nb in _sci.notebooks] if _sci else [])
def test_sci_notebook_matches_reference(name: str) -> None:
    assert _sci is not None
    if sci_python() is None:
        pytest.skip("no scientific-stack kernel venv (.venv-kernels/sci-3.12: run `make sci-venv`)")
    nb = _sci.get(name)
    if SCI_VERSION not in nb.references:
        pytest.skip(f"no reference/{nb.path.name}")
    sources, expected = nb.sources(), reference_outputs(nb)
    runs: list[list[list[dict[str, Any]]]] = []
    while True:
        with scratch_dir(_sci) as cwd:
            runs.append(run_with_nbclient(nb.path, "amphi-sci", Path(cwd)))
        cmp = compare_runs(name, sources, expected, runs)
        if not wants_rerun(cmp, len(runs)):
            break
    assert not cmp.failures, cmp.report()
    assert cmp.figures_shown == cmp.figures_expected


def test_corpora_are_found() -> None:
    """The corpora next to the repository are there (else the tests above would be empty)."""
    if _corpus is None:
        pytest.skip(f"no corpus at {CORPUS}")
    assert len(_corpus.notebooks) >= 20
    if _sci is not None:
        assert len(_sci.notebooks) >= 5
