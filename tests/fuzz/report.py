"""What one fuzz run of one boundary found, and the memory watcher every run uses."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil

CI_CASES = 10_000
"""Cases per boundary in the CI run (fixed seed)."""
LONG_CASES = 100_000
"""Cases per boundary in ``python -m tests.fuzz --long``."""
SEED = 20261203
"""The fixed seed of the CI run."""

MIB = 1024 * 1024

RUN_REPORTS: list[FuzzReport] = []
"""Every report made in this process, in order (the pytest summary prints their case counts)."""


@dataclass
class FuzzReport:
    """One boundary's run.

    Attributes:
        boundary: what was fuzzed (``kernel:control``, ``ws:edit``, ``http``...).
        cases: frames or requests sent.
        crashes: the target died, or a handler raised (5xx, a logged handler exception).
        hangs: a liveness check (a real cell runs, a page loads) that did not answer in time.
        bad: cases the target had to refuse (undecodable, invalid, not allowed).
        base_rss, peak_rss, end_rss: the target process's resident memory in bytes before,
            at most during, and after the run.
        seconds: wall-clock time of the run.
        kinds: cases per mutation kind.
        notes: anything else worth printing (e.g. error notifications received).
    """

    boundary: str
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    bad: int = 0
    base_rss: int = 0
    peak_rss: int = 0
    end_rss: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    notes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        RUN_REPORTS.append(self)

    def row(self) -> str:
        """One line of the printed table."""
        return (
            f"{self.boundary:<22} {self.cases:>9} {self.crashes:>7} {self.hangs:>5} {self.bad:>9} "
            f"{self.base_rss / MIB:>8.1f} {self.peak_rss / MIB:>8.1f} {self.end_rss / MIB:>8.1f} {self.seconds:>8.1f}"
        )

    @staticmethod
    def header() -> str:
        return (
            f"{'boundary':<22} {'cases':>9} {'crashes':>7} {'hangs':>5} {'refused':>9} "
            f"{'base MiB':>8} {'peak MiB':>8} {'end MiB':>8} {'seconds':>8}"
        )


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes (0 once it is gone)."""
    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total
    except psutil.Error:
        return 0


class MemoryWatch:
    """Samples the resident memory of a process tree every ``interval`` seconds in a thread
    and keeps the peak.  Use as a context manager."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.base = tree_rss(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fuzz-memory-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(self.pid))

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, tree_rss(self.pid))

    def fill(self, report: FuzzReport) -> None:
        """Copy base, peak and current memory into ``report``."""
        report.base_rss, report.peak_rss, report.end_rss = self.base, self.peak, tree_rss(self.pid)


class Stopwatch:
    """``with Stopwatch() as t: ...``; ``t.seconds`` afterwards."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
