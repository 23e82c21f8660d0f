"""Running the scientific-stack corpus (:mod:`tests.conformance.sci`): its runner (the
subprocess host on the ``make sci-venv`` interpreter), a scratch working directory per run
holding a copy of the corpus's ``data/``, reruns to tell nondeterministic cells, and the
session that runs every wanted notebook concurrently and reports the table."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conformance.corpus import Corpus, CorpusNotebook
from tests.conformance.runners import RunOutcome, SubprocessRunner
from tests.conformance.sci import (
    MAX_RUNS,
    SCI_VENV,
    SCI_VERSION,
    SciComparison,
    compare_runs,
    reference_outputs,
    wants_rerun,
)


@dataclass
class SciRunner(SubprocessRunner):
    """The subprocess host on the scientific-stack kernel venv (:data:`SCI_VENV`)."""

    version: str = SCI_VERSION
    venv: Path = SCI_VENV

    @property
    def label(self) -> str:
        return f"sci-{self.version}"

    @property
    def python(self) -> str | None:
        """The venv's interpreter, once ``make sci-venv`` finished installing it."""
        python = self.venv / "bin" / "python"
        return str(python) if (self.venv / ".installed").is_file() and python.is_file() else None

    def unavailable(self) -> str | None:
        if self.python is None:
            return f"no scientific-stack kernel venv at {self.venv} (run `make sci-venv`)"
        return None


@dataclass
class SciOutcome:
    """Every run of one notebook, and their comparison with the reference."""

    runs: list[RunOutcome]
    comparison: SciComparison

    @property
    def seconds(self) -> float:
        """The first run's seconds (kernel start included)."""
        return self.runs[0].seconds


def scratch_dir(corpus: Corpus) -> tempfile.TemporaryDirectory[str]:
    """A fresh working directory holding a copy of the corpus's ``data/`` (when it has one)."""
    tmp = tempfile.TemporaryDirectory(prefix="amphi-sci-")
    if (corpus.root / "data").is_dir():
        shutil.copytree(corpus.root / "data", Path(tmp.name) / "data")
    return tmp


async def run_notebook(runner: SciRunner, corpus: Corpus, nb: CorpusNotebook, timeout: float,
                       slots: asyncio.Semaphore) -> SciOutcome:  # fmt: skip
    """Run ``nb`` (again while :func:`wants_rerun`) and compare it with its reference."""
    sources, expected = nb.sources(), reference_outputs(nb)
    runs: list[RunOutcome] = []
    while True:
        async with slots:
            with scratch_dir(corpus) as cwd:
                runs.append(await runner.run(sources, Path(cwd), timeout))
        cmp = compare_runs(nb.name, sources, expected, [r.outputs for r in runs])
        if not wants_rerun(cmp, len(runs)):
            return SciOutcome(runs, cmp)


@dataclass
class SciSession:
    """The corpus-sci runs of one pytest session (run together on first use)."""

    corpus: Corpus | None
    error: str | None
    workers: int
    timeout: float
    runner: SciRunner = field(default_factory=SciRunner)
    wanted: set[str] = field(default_factory=set)
    outcomes: dict[str, SciOutcome | BaseException] = field(default_factory=dict)
    batch_seconds: float | None = None

    def outcome(self, name: str) -> SciOutcome:
        """The outcome of notebook ``name`` (the batch of wanted notebooks runs on first use).

        Raises:
            BaseException: what its run raised.
        """
        if self.batch_seconds is None:
            start = time.perf_counter()
            asyncio.run(self._batch(self.wanted | {name}))
            self.batch_seconds = time.perf_counter() - start
        if name not in self.outcomes:
            asyncio.run(self._batch({name}))
        result = self.outcomes[name]
        if isinstance(result, BaseException):
            raise result
        return result

    async def _batch(self, names: set[str]) -> None:
        assert self.corpus is not None
        corpus, slots = self.corpus, asyncio.Semaphore(self.workers)

        async def one(nb: CorpusNotebook) -> None:
            try:
                self.outcomes[nb.name] = await run_notebook(self.runner, corpus, nb, self.timeout, slots)
            except Exception as exc:
                self.outcomes[nb.name] = exc

        await asyncio.gather(*(one(nb) for nb in corpus.notebooks if nb.name in names))

    def batch_timeout(self) -> float:
        """Seconds the batch of wanted notebooks may take at most: every notebook's runs
        timing out, ``workers`` at a time, plus two minutes."""
        rounds = -(-len(self.wanted) // max(1, self.workers))
        return 120 + rounds * MAX_RUNS * self.timeout

    def cell_notes(self) -> list[str]:
        """One line per code cell that does not match, for the terminal summary."""
        notes = []
        for nb in self.corpus.notebooks if self.corpus else []:
            out = self.outcomes.get(nb.name)
            if not isinstance(out, SciOutcome):
                continue
            failing = [c.cell for c in out.comparison.failures]
            for c in out.comparison.cells:
                if c.status != "match":
                    verdict = "FAILS" if c.cell in failing else "same shape as the reference"
                    notes.append(f"{self.runner.label}: {nb.name} cell {c.cell}: {c.status}, {verdict}: {c.differences()}")
        return notes

    def write_report(self, path: Path) -> None:
        """Markdown at ``path``: the table, then every cell that does not match with the diff
        of its views (reference against ours)."""
        parts = [f"# corpus-sci: {self.corpus.root if self.corpus else '-'}\n", self.table(), ""]
        for nb in self.corpus.notebooks if self.corpus else []:
            out = self.outcomes.get(nb.name)
            if isinstance(out, BaseException):
                parts.append(f"## {nb.name}\n\nthe run failed: {out!r}\n")
            elif out is not None and out.comparison.matched < len(out.comparison.cells):
                parts.append(f"## {nb.name}\n\n```\n{out.comparison.report()}\n```\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts), encoding="utf-8")

    def table(self) -> str:
        """Markdown: notebook, code cells, matched, nondeterministic, figures shown/expected,
        seconds of the first run, runs."""
        assert self.corpus is not None
        rows = [["notebook", "cells", "matched", "nondeterministic", "figures", "seconds", "runs"]]
        total = [0, 0, 0, 0, 0, 0.0, 0]
        for nb in self.corpus.notebooks:
            out = self.outcomes.get(nb.name)
            if out is None:
                continue
            if isinstance(out, BaseException):
                rows.append([nb.name, str(len(nb.sources())), f"error: {type(out).__name__}", "-", "-", "-", "-"])
                continue
            cmp = out.comparison
            values = [len(cmp.cells), cmp.matched, len(cmp.nondeterministic), cmp.figures_shown,
                      cmp.figures_expected, out.seconds, len(out.runs)]  # fmt: skip
            total = [a + b for a, b in zip(total, values)]
            rows.append(_row(nb.name, values))
        rows.append(_row("total", total))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)


def _row(name: str, values: list[Any]) -> list[str]:
    cells, matched, nondet, shown, figures, seconds, runs = values
    return [name, str(cells), f"{matched}/{cells}", str(nondet), f"{shown}/{figures}", f"{seconds:.1f}", str(runs)]
