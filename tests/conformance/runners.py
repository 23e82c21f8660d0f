"""Hosts that run a corpus notebook top to bottom: one runner per host and interpreter.

A runner takes the code cells' sources and a scratch working directory and returns, per code
cell, the comparable items (:func:`tests.conformance.corpus.cell_items`).  The harness compares
them with the reference of :attr:`Runner.reference_version` (falling back to nothing: a
runner whose reference is missing is skipped).

Adding a host (the Pyodide host under Node.js): write a class with the attributes and the
``run`` coroutine of :class:`Runner`, and append a factory to :data:`RUNNER_FACTORIES`, e.g.::

    def pyodide_runners(corpus):
        return [PyodideRunner(reference_version="3.12")]   # Python 3.14: no own reference

    RUNNER_FACTORIES.append(pyodide_runners)

A host whose interpreter has no reference of its own (Pyodide is Python 3.14) is compared with
the canonical reference and may list version-dependent cells in :data:`ALLOWED_DIFFERENCES`;
only cells whose CPython references already differ between versions may be listed there
(``test_allowed_differences_are_version_dependent`` checks it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.conformance.corpus import Corpus, Item, cell_items

REPO = Path(__file__).resolve().parents[2]
KERNEL_VENVS = REPO / ".venv-kernels"
CPYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")

ALLOWED_DIFFERENCES: dict[str, dict[str, frozenset[int]]] = {}
"""Host name -> notebook name -> code-cell indexes that may differ from the reference.

Empty for the CPython runners (each is compared with its own version's reference).  For a host
without a reference of its own, list only cells that are version-dependent in the CPython
references themselves (:func:`tests.conformance.corpus.version_dependent_cells`), e.g.
``{"pyodide": {"lp3_01_strings": frozenset({9})}}`` (``help()`` text changes between versions).
"""


@dataclass
class RunOutcome:
    """One top-to-bottom run."""

    items: list[list[Item]]
    seconds: float
    kernel_errors: list[str] = field(default_factory=list)


class Runner(Protocol):
    """A host + interpreter that runs notebooks top to bottom."""

    host: str
    """Host name (``"subprocess"``, ``"pyodide"``); keys :data:`ALLOWED_DIFFERENCES`."""
    label: str
    """Unique, short: the test id and the results-table column (``"cpython-3.12"``)."""
    reference_version: str
    """The ``reference/<version>`` this runner is compared with."""

    def unavailable(self) -> str | None:
        """Why this runner cannot run here (the tests are skipped), or ``None``."""

    async def run(self, sources: list[str], cwd: Path, timeout: float) -> RunOutcome:
        """Run the code cells top to bottom in a fresh kernel with working directory ``cwd``."""


def notebook_from_sources(sources: list[str]) -> Any:
    """A :class:`lifecycle.notebook.Notebook` with one code cell per source (ids ``c0``...)."""
    from lifecycle.notebook import Cell, Notebook

    return Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)])


def kernel_python(version: str) -> str | None:
    """The interpreter for CPython ``version`` (``"3.12"``): the kernel virtualenv
    ``.venv-kernels/<version>.*`` (``make kernel-venvs``), else this interpreter when it is
    that version, else ``None``."""
    if KERNEL_VENVS.is_dir():
        for venv in sorted(KERNEL_VENVS.glob(f"{version}.*")):
            python = venv / "bin" / "python"
            if python.is_file() and os.access(python, os.X_OK):
                return str(python)
    if ".".join(map(str, sys.version_info[:2])) == version:
        return sys.executable
    return None


@dataclass
class SubprocessRunner:
    """``amphi execute``'s code path: :func:`subprocess_host.headless.run_in_subprocess_async`
    (kernel subprocess, fd-level console capture, the kernel's module as ``__main__``)."""

    version: str
    host: str = "subprocess"

    @property
    def label(self) -> str:
        return f"cpython-{self.version}"

    @property
    def reference_version(self) -> str:
        return self.version

    @property
    def python(self) -> str | None:
        return kernel_python(self.version)

    def unavailable(self) -> str | None:
        if self.python is None:
            return f"no Python {self.version} kernel interpreter (run `make kernel-venvs`)"
        return None

    async def run(self, sources: list[str], cwd: Path, timeout: float) -> RunOutcome:
        from subprocess_host.headless import run_in_subprocess_async

        nb = notebook_from_sources(sources)
        start = time.perf_counter()
        result = await run_in_subprocess_async(nb, cwd=cwd, python=self.python, timeout=timeout)
        seconds = time.perf_counter() - start
        items = [cell_items(cell.outputs) for cell in result.notebook.cells if cell.kind == "code"]
        return RunOutcome(items, seconds, list(result.kernel_errors))


def subprocess_runners(corpus: Corpus) -> list[Runner]:
    """One subprocess runner per CPython version 3.10-3.13."""
    return [SubprocessRunner(v) for v in CPYTHON_VERSIONS]


RUNNER_FACTORIES: list[Callable[[Corpus], list[Runner]]] = [subprocess_runners]
"""Each returns the runners of one host for a corpus (append the Pyodide host's here)."""


def all_runners(corpus: Corpus) -> list[Runner]:
    return [runner for factory in RUNNER_FACTORIES for runner in factory(corpus)]
