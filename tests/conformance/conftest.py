"""Conformance suite plumbing: the ``--corpus`` option, one batch of kernel runs per session
(run concurrently, only for the selected tests, every host: CPython 3.10-3.13 through the
subprocess host and Pyodide under Node.js), and the results table at the end (one column pair
per host: matched cells and seconds).  Runners that keep processes between runs (the Pyodide
runner's Node processes) are closed when the batch ends.

The scientific-stack corpus (``../shared/corpus-sci``: flat ``reference/*.ipynb``, ``data/``)
runs apart, through :class:`tests.conformance.sci_session.SciSession` (the subprocess host on the
``make sci-venv`` interpreter, compared as its README says; ``test_sci_corpus``), with its own
table in the summary.

Options (``pytest tests/conformance ...``):

``--corpus DIR``
    a corpus directory, laid out like ``../shared/corpus`` (``notebooks/*.ipynb`` and
    ``reference/<version>/*.ipynb``) or like ``../shared/corpus-sci`` (flat
    ``reference/*.ipynb``); may be given once for each layout.  Default: both shared corpora
    next to the repository.
``--conformance-workers N``
    kernels computing at once (default: the number of CPUs, at least 2).
``--conformance-table FILE``
    also write the results table (Markdown) to FILE.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.corpus import CANONICAL_VERSION, Comparison, Corpus, load_corpus
from tests.conformance.reactive import ReactiveOutcome, check_reactive
from tests.conformance.runners import (
    CPYTHON_VERSIONS,
    Runner,
    RunOutcome,
    SubprocessRunner,
    all_runners,
    kernel_python,
)
from tests.conformance.sci import is_sci_corpus, load_sci_corpus
from tests.conformance.sci_session import SciSession

DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DEFAULT_SCI_CORPUS = DEFAULT_CORPUS.parent / "corpus-sci"
RUN_TIMEOUT = 180.0
"""Seconds allowed for one top-to-bottom run or one reactive step."""
SCI_RUN_TIMEOUT = 300.0
"""Seconds allowed for one run of a corpus-sci notebook (the heaviest takes about 45 s here)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "amphikernel conformance suite")
    group.addoption("--corpus", action="append", default=None, metavar="DIR",
                    help="corpus directory (notebooks/, reference/<version>/ or a flat reference/), once per "
                         f"layout; default {DEFAULT_CORPUS} and {DEFAULT_SCI_CORPUS}")
    group.addoption("--conformance-workers", type=int, default=None, metavar="N",
                    help="kernels computing at once (default: number of CPUs, at least 2)")
    group.addoption("--conformance-table", default=None, metavar="FILE",
                    help="also write the results table (Markdown) to FILE")


def _corpus_dir(config: pytest.Config, sci: bool = False) -> Path | None:
    """The corpus of one layout (``sci``: flat ``reference/``): the ``--corpus`` of that
    layout, else the default when no ``--corpus`` is given, else ``None``."""
    given = [Path(p).resolve() for p in config.getoption("corpus", default=None) or []]
    if not given:
        return DEFAULT_SCI_CORPUS if sci else DEFAULT_CORPUS
    chosen = [p for p in given if is_sci_corpus(p) == sci]
    if len(chosen) > 1:
        raise pytest.UsageError(f"--corpus: {len(chosen)} corpora of the same layout: {', '.join(map(str, chosen))}")
    return chosen[0] if chosen else None


@dataclass
class ConformanceSession:
    """Runs and remembers every kernel run of the session."""

    corpus: Corpus | None
    error: str | None
    workers: int
    runners: dict[str, Runner] = field(default_factory=dict)
    wanted_top: set[tuple[str, str]] = field(default_factory=set)
    wanted_reactive: set[str] = field(default_factory=set)
    top: dict[tuple[str, str], RunOutcome | BaseException] = field(default_factory=dict)
    reactive: dict[str, ReactiveOutcome | BaseException] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Lines for the terminal summary (version-dependent cells, expected failures)."""
    batch_seconds: float | None = None

    @property
    def reactive_runner(self) -> SubprocessRunner:
        return SubprocessRunner(CANONICAL_VERSION)

    def top_outcome(self, label: str, name: str) -> RunOutcome:
        self._ensure_batch()
        result = self.top.get((label, name))
        if result is None:  # not selected at collection (e.g. called directly): run it now
            asyncio.run(self._batch({(label, name)}, set()))
            result = self.top[(label, name)]
        if isinstance(result, BaseException):
            raise result
        return result

    def reactive_outcome(self, name: str) -> ReactiveOutcome:
        self._ensure_batch()
        result = self.reactive.get(name)
        if result is None:
            asyncio.run(self._batch(set(), {name}))
            result = self.reactive[name]
        if isinstance(result, BaseException):
            raise result
        return result

    def _ensure_batch(self) -> None:
        if self.batch_seconds is None:
            start = time.perf_counter()
            asyncio.run(self._batch(self.wanted_top, self.wanted_reactive))
            self.batch_seconds = time.perf_counter() - start

    async def _batch(self, top: set[tuple[str, str]], reactive: set[str]) -> None:
        """Every wanted run, concurrently (``workers`` kernels computing at once)."""
        assert self.corpus is not None
        corpus = self.corpus
        slots = asyncio.Semaphore(self.workers)

        def scratch() -> Any:
            return tempfile.TemporaryDirectory(prefix="amphi-conformance-")

        async def run_top(label: str, name: str) -> None:
            runner = self.runners[label]
            try:
                async with slots:
                    with scratch() as cwd:
                        self.top[(label, name)] = await runner.run(corpus.get(name).sources(), Path(cwd), RUN_TIMEOUT)
            except Exception as exc:
                self.top[(label, name)] = exc

        async def run_reactive(name: str) -> None:
            runner = self.reactive_runner
            try:
                self.reactive[name] = await check_reactive(
                    name, corpus.get(name).sources(), runner.python, runner, scratch, slots, RUN_TIMEOUT
                )
            except Exception as exc:
                self.reactive[name] = exc

        # Notebook order first, then hosts: the slow notebooks of every version overlap.
        jobs = [run_top(label, name) for name in (nb.name for nb in corpus.notebooks)
                for label in self.runners if (label, name) in top]
        jobs += [run_reactive(nb.name) for nb in corpus.notebooks if nb.name in reactive]
        try:
            await asyncio.gather(*jobs)
        finally:  # runners that keep processes between runs (Pyodide) let them go
            for runner in self.runners.values():
                close = getattr(runner, "close", None)
                if close is not None:
                    await asyncio.to_thread(close)


_SESSION = pytest.StashKey[ConformanceSession]()


def _make_session(config: pytest.Config) -> ConformanceSession:
    if _SESSION in config.stash:
        return config.stash[_SESSION]
    root = _corpus_dir(config)
    workers = _workers(config)
    corpus, error = _load(config, root, load_corpus) if root else (None, "--corpus names no reference/<version>/ corpus")
    session = ConformanceSession(corpus, error, workers)
    if corpus is not None:
        session.runners = {r.label: r for r in all_runners(corpus)}
    config.stash[_SESSION] = session
    return session


def _workers(config: pytest.Config) -> int:
    return config.getoption("conformance_workers", default=None) or max(2, os.cpu_count() or 2)


def _load(config: pytest.Config, root: Path, load: Any) -> tuple[Corpus | None, str | None]:
    """``(load(root), None)``, or ``(None, why)`` for a default corpus that is missing.

    Raises:
        pytest.UsageError: a ``--corpus`` given that does not load.
    """
    try:
        return load(root), None
    except (FileNotFoundError, OSError) as exc:
        if config.getoption("corpus", default=None):
            raise pytest.UsageError(f"--corpus {root}: {exc}") from None
        return None, f"no corpus at {root}: {exc}"


_SCI_SESSION = pytest.StashKey[SciSession]()


def _make_sci_session(config: pytest.Config) -> SciSession:
    if _SCI_SESSION not in config.stash:
        root = _corpus_dir(config, sci=True)
        corpus, error = _load(config, root, load_sci_corpus) if root else (None, "--corpus names no corpus-sci")
        config.stash[_SCI_SESSION] = SciSession(corpus, error, _workers(config), SCI_RUN_TIMEOUT)
    return config.stash[_SCI_SESSION]


@pytest.fixture(scope="session")
def sci_conformance(request: pytest.FixtureRequest) -> SciSession:
    """The corpus-sci session; skips when the corpus or the scientific kernel venv is missing."""
    session = _make_sci_session(request.config)
    if session.corpus is None:
        pytest.skip(session.error or "no corpus-sci")
    reason = session.runner.unavailable()
    if reason:
        pytest.skip(reason)
    return session


@pytest.fixture(scope="session")
def sci_conformance_corpus(request: pytest.FixtureRequest) -> Corpus:
    """The corpus-sci corpus (nothing run); skips when it is missing."""
    session = _make_sci_session(request.config)
    if session.corpus is None:
        pytest.skip(session.error or "no corpus-sci")
    return session.corpus


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sci_case" in metafunc.fixturenames:
        sci = _make_sci_session(metafunc.config)
        names = [nb.name for nb in sci.corpus.notebooks] if sci.corpus else []
        metafunc.parametrize("sci_case", names, ids=[f"{sci.runner.label}-{n}" for n in names])
    session = _make_session(metafunc.config)
    names = [nb.name for nb in session.corpus.notebooks] if session.corpus else []
    if "conformance_case" in metafunc.fixturenames:
        cases = [(label, name) for label in session.runners for name in names]
        metafunc.parametrize("conformance_case", cases, ids=[f"{label}-{name}" for label, name in cases])
    if "reactive_case" in metafunc.fixturenames:
        metafunc.parametrize("reactive_case", names, ids=names)


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: only the selected notebooks run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = _make_session(config)
    for item in items:
        params = getattr(item, "callspec", None)
        if params is None:
            continue
        case = params.params.get("conformance_case")
        if isinstance(case, tuple):  # not the placeholder of an empty parametrisation
            label, name = case
            runner = session.runners[label]
            nb = session.corpus.get(name) if session.corpus else None
            if runner.unavailable() is None and nb is not None and runner.reference_version in nb.references:
                session.wanted_top.add((label, name))
        name = params.params.get("reactive_case")
        if isinstance(name, str) and session.reactive_runner.unavailable() is None:
            session.wanted_reactive.add(name)
        name = params.params.get("sci_case")
        if isinstance(name, str):
            _make_sci_session(config).wanted.add(name)
    sci = _make_sci_session(config)
    for item in items:  # the first case runs the batch: its bound, whatever the corpus's size
        if "sci_case" in getattr(getattr(item, "callspec", None), "params", {}):
            item.add_marker(pytest.mark.timeout(sci.batch_timeout()), append=False)


@pytest.fixture(scope="session")
def conformance(request: pytest.FixtureRequest) -> ConformanceSession:
    session = _make_session(request.config)
    if session.corpus is None:
        pytest.skip(session.error or "no corpus")
    return session


# ------------------------------------------------------------------------- results table


def results_table(session: ConformanceSession) -> str:
    """Markdown table: notebook, code cells, matched cells and seconds per runner (one column
    pair per CPython version and one for Pyodide), reactive agreement (matched cells after each
    edit) and its seconds.  Cells that differ where they are listed as version-dependent are
    counted apart: ``23/25 +2v``."""
    assert session.corpus is not None
    labels = [label for label in session.runners if any(k[0] == label for k in session.top)]
    show_reactive = bool(session.reactive)
    head = ["notebook", "cells"]
    for label in labels:
        head += [f"{label} matched", f"{label} s"]
    if show_reactive:
        head += ["reactive (after each edit)", "reactive s"]
    rows = [head]
    totals = {label: [0, 0, 0.0, 0] for label in labels}
    for nb in session.corpus.notebooks:
        if not any((label, nb.name) in session.top for label in labels) and nb.name not in session.reactive:
            continue
        cells = len(nb.sources())
        row = [nb.name, str(cells)]
        for label in labels:
            cmp = session.comparisons.get((label, nb.name))
            out = session.top.get((label, nb.name))
            if cmp is not None and isinstance(out, RunOutcome):
                allowed = f" +{len(cmp.allowed)}v" if cmp.allowed else ""
                row += [f"{cmp.matched}/{cmp.cells}{allowed}", f"{out.seconds:.2f}"]
                totals[label][0] += cmp.matched
                totals[label][1] += cmp.cells
                totals[label][2] += out.seconds
                totals[label][3] += len(cmp.allowed)
            else:
                row += ["error" if isinstance(out, BaseException) else "-", "-"]
        if show_reactive:
            rout = session.reactive.get(nb.name)
            if isinstance(rout, ReactiveOutcome):
                steps = ", ".join(f"{s.edit.kind} {s.comparison.matched}/{s.comparison.cells}" for s in rout.steps)
                row += [steps or "-", f"{rout.seconds:.2f}"]
            else:
                row += ["error" if isinstance(rout, BaseException) else "-", "-"]
        rows.append(row)
    total = ["total", str(sum(len(nb.sources()) for nb in session.corpus.notebooks))]
    for label in labels:
        matched, cells, secs, allowed = totals[label]
        total += [f"{matched}/{cells}" + (f" +{allowed}v" if allowed else ""), f"{secs:.2f}"]
    if show_reactive:
        outs = [r for r in session.reactive.values() if isinstance(r, ReactiveOutcome)]
        total += [f"{sum(r.ok for r in outs)}/{len(session.reactive)} notebooks agree",
                  f"{sum(r.seconds for r in outs):.2f}"]
    rows.append(total)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    _sci_summary(terminalreporter, config)
    session = config.stash.get(_SESSION, None)
    if session is None or session.corpus is None or not (session.top or session.reactive):
        return
    table = results_table(session)
    versions = ", ".join(v for v in CPYTHON_VERSIONS if kernel_python(v) is None)
    tr = terminalreporter
    tr.section("amphikernel conformance")
    tr.write_line(f"corpus: {session.corpus.root}")
    tr.write_line(table)
    if any(cmp.allowed for cmp in session.comparisons.values()):
        tr.write_line("+Nv: N more cells differ where the CPython references differ between versions (listed in"
                      " test_corpus.PYODIDE_VERSION_DEPENDENT; what does not vary still matches)")
    for note in session.notes:
        tr.write_line(note)
    if session.batch_seconds is not None:
        tr.write_line(f"wall time of the kernel runs: {session.batch_seconds:.1f} s with {session.workers} workers"
                      " (per-notebook seconds include kernel start; runs overlap)")
    for runner in session.runners.values():
        summary = getattr(runner, "summary", None)
        for line in summary() if summary is not None else []:
            tr.write_line(line)
    if versions:
        tr.write_line(f"skipped CPython versions (no kernel interpreter): {versions}")
    path = config.getoption("conformance_table", default=None)
    if path:
        Path(path).write_text(table + "\n", encoding="utf-8")
        tr.write_line(f"wrote {path}")


def _sci_summary(tr: Any, config: pytest.Config) -> None:
    """The corpus-sci table, one line per cell that does not match, the batch's wall time."""
    sci = config.stash.get(_SCI_SESSION, None)
    if sci is None or sci.corpus is None or not sci.outcomes:
        return
    table = sci.table()
    tr.section("amphikernel conformance: scientific corpus")
    tr.write_line(f"corpus: {sci.corpus.root}; kernel: {sci.runner.python}")
    tr.write_line(table)
    for line in sci.cell_notes():
        tr.write_line(line)
    report = Path(__file__).resolve().parents[2] / "test-artifacts" / "conformance-sci" / "report.md"
    sci.write_report(report)
    tr.write_line(f"every cell that does not match, with the diff of its views: {report}")
    if sci.batch_seconds is not None:
        tr.write_line(f"wall time of the corpus-sci runs: {sci.batch_seconds:.1f} s with {sci.workers} workers (seconds:"
                      " the first run of each notebook, kernel start included; runs overlap)")
    path = config.getoption("conformance_table", default=None)
    if path:
        Path(path).with_suffix(".sci.md").write_text(table + "\n", encoding="utf-8")
        tr.write_line(f"wrote {Path(path).with_suffix('.sci.md')}")
