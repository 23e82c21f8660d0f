"""Hosts that run a corpus notebook top to bottom: one runner per host and interpreter.

A runner takes the code cells' sources and a scratch working directory and returns, per code
cell, the comparable items (:func:`tests.conformance.corpus.cell_items`).  The harness compares
them with the reference of :attr:`Runner.reference_version` (falling back to nothing: a
runner whose reference is missing is skipped).

Hosts: :class:`SubprocessRunner` (``amphi execute``'s code path, one per CPython version
3.10-3.13, each compared with its own version's reference) and :class:`PyodideRunner` (the
Pyodide host under Node.js; Pyodide is Python 3.14, for which no reference exists, so it is
compared with the canonical 3.12 reference; the cells that may differ there are listed, with
the reason, in :mod:`tests.conformance.test_corpus`).  Adding a host: write a class with the
attributes and the ``run`` coroutine of :class:`Runner` (optionally ``close()`` and
``summary()``), and append a factory to :data:`RUNNER_FACTORIES`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.conformance.corpus import CANONICAL_VERSION, Corpus, Item, cell_items

REPO = Path(__file__).resolve().parents[2]
KERNEL_VENVS = REPO / ".venv-kernels"
CPYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")


@dataclass
class RunOutcome:
    """One top-to-bottom run."""

    items: list[list[Item]]
    seconds: float
    kernel_errors: list[str] = field(default_factory=list)
    outputs: list[list[dict[str, Any]]] = field(default_factory=list)
    """Per code cell, its nbformat outputs as the host returned them (subprocess host)."""


class Runner(Protocol):
    """A host + interpreter that runs notebooks top to bottom."""

    host: str
    """Host name (``"subprocess"``, ``"pyodide"``)."""
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
        outputs = [list(cell.outputs) for cell in result.notebook.cells if cell.kind == "code"]
        return RunOutcome([cell_items(o) for o in outputs], seconds, list(result.kernel_errors), outputs)


def subprocess_runners(corpus: Corpus) -> list[Runner]:
    """One subprocess runner per CPython version 3.10-3.13."""
    return [SubprocessRunner(v) for v in CPYTHON_VERSIONS]


class PyodideRunner:
    """The Pyodide host under Node.js (``pyodide_host/node/harness.mjs`` driven by
    :class:`pyodide_host.build.node_harness.NodeHarness`): the session of
    :mod:`pyodide_host.session` (the lifecycle core, ``"replace"`` console capture), Python 3.14,
    compared with the canonical reference.

    Node processes are reused: each notebook runs in a fresh kernel of an idle process, after
    :meth:`~pyodide_host.build.node_harness.NodeHarness.reset` brought that process back to
    the state it had before its first notebook (``pyodide_host/node/isolation.py``;
    ``test_pyodide_isolation`` proves a notebook sees nothing an earlier one left).  A process
    that cannot be reset (:class:`~pyodide_host.build.node_harness.StateLeakError`), failed or
    timed out is replaced.  One process per notebook running at once (the conftest's workers).
    The per-notebook seconds run from the reset to the end of the run; Node + Pyodide boot is
    counted apart (:meth:`summary`).  The dist directory is built on demand.
    """

    host = "pyodide"
    label = "pyodide"
    reference_version = CANONICAL_VERSION
    """Pyodide is Python 3.14: no reference of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._dist: Path | None = None
        self.boot_seconds: list[float] = []
        self.notebooks = 0
        self.replaced: list[str] = []
        self.python: str | None = None

    def unavailable(self) -> str | None:
        from pyodide_host.build.node_harness import node_executable

        if node_executable() is None:
            return "node is not installed: the Pyodide host runs Pyodide under Node.js (install node or set AMPHI_NODE)"
        return None

    async def run(self, sources: list[str], cwd: Path, timeout: float) -> RunOutcome:
        return await asyncio.to_thread(self._run, sources, cwd, timeout)

    def _run(self, sources: list[str], cwd: Path, timeout: float) -> RunOutcome:
        from pyodide_host.build.node_harness import StateLeakError

        deadline = time.monotonic() + timeout
        harness = self._acquire(timeout)
        try:
            try:
                result = harness.run_notebook(notebook_from_sources(sources), cwd=cwd, timeout=timeout)
            except StateLeakError as exc:  # nothing ran: run it in a new process
                with self._lock:
                    self.replaced.append(f"{exc} (reset before a notebook of {len(sources)} cells)")
                harness.close()
                harness = self._start(max(1.0, deadline - time.monotonic()))
                result = harness.run_notebook(
                    notebook_from_sources(sources), cwd=cwd, timeout=max(1.0, deadline - time.monotonic())
                )
        except BaseException:
            harness.close()
            raise
        with self._lock:
            self._idle.append(harness)
            self.notebooks += 1
        items = [cell_items(cell.outputs) for cell in result.notebook.cells if cell.kind == "code"]
        return RunOutcome(items, result.seconds, list(result.kernel_errors))

    def _acquire(self, timeout: float) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._start(timeout)

    def _start(self, timeout: float) -> Any:
        from lifecycle import protocol
        from pyodide_host.build import ensure_dist
        from pyodide_host.build.node_harness import NodeHarness

        with self._lock:  # one build at a time; built on demand, then found up to date
            if self._dist is None:
                self._dist = ensure_dist(quiet=True)
            dist = self._dist
        started = time.perf_counter()
        harness = NodeHarness(dist)
        try:
            harness.wait_ready(timeout)
            ready = harness.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=timeout)
        except BaseException:
            harness.close()
            raise
        with self._lock:
            self.boot_seconds.append(time.perf_counter() - started)
            self.python = self.python or ready.python
        return harness

    def close(self) -> None:
        """Quit the idle Node processes (a later run starts new ones)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for harness in idle:
            harness.close()

    def summary(self) -> list[str]:
        """Lines for the terminal summary."""
        if not self.boot_seconds:
            return []
        boots = self.boot_seconds
        lines = [
            f"pyodide: Python {self.python} in Pyodide under Node {_node_version()}: {self.notebooks} notebooks in "
            f"{len(boots)} reused Node processes (boot {min(boots):.1f}-{max(boots):.1f} s each, not in the per-notebook "
            "seconds, which run from the state reset to the end of the run)"
        ]
        lines += [f"pyodide: process replaced: {r}" for r in self.replaced]
        return lines


def _node_version() -> str:
    from pyodide_host.build.node_harness import node_executable

    try:
        return subprocess.run([node_executable() or "node", "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "?"


def pyodide_runners(corpus: Corpus) -> list[Runner]:
    """The Pyodide host under Node.js."""
    return [PyodideRunner()]


RUNNER_FACTORIES: list[Callable[[Corpus], list[Runner]]] = [subprocess_runners, pyodide_runners]
"""Each returns the runners of one host for a corpus."""


def all_runners(corpus: Corpus) -> list[Runner]:
    return [runner for factory in RUNNER_FACTORIES for runner in factory(corpus)]
