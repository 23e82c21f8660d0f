"""Run the whole IPC compatibility matrix and format its summary table.

For each CPython kernel interpreter (:data:`tests.compat.envs.PYTHONS`) the host runs on
another one (:data:`HOST_OF`), each in its own venv holding the wheel built for this run
(:mod:`tests.compat.envs`); :mod:`tests.compat.driver` runs scenarios 1-10 through both links
(``subprocess``: ``launch_kernel``; ``app``: an app process over the multiplexed sockets).
Scenario 11 (msgspec skew) runs them again with the *oldest* msgspec ``pyproject.toml``
declares for that interpreter: in the kernel (host on the newest) and in the host (kernel on
the newest), one link each, alternating from one interpreter to the next; the newest is what
the normal venvs resolve.
Pyodide 3.14 under Node is driven from this interpreter (:mod:`tests.compat.pyodide_link`);
scenario 8 also goes once through Chromium (:mod:`tests.compat.browser`).

Runs go in parallel (:data:`JOBS` at a time: 2 cores).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import Requirement

from tests.compat import envs
from tests.compat.scenarios import SCENARIO_TITLES, SCENARIOS

DRIVER = Path(__file__).resolve().parent / "driver.py"
HOST_OF = {"3.10.13": "3.13.0", "3.11.7": "3.10.13", "3.12.1": "3.11.7", "3.13.0": "3.12.1"}
"""Kernel interpreter -> the interpreter its host runs on (never the same)."""
PYODIDE = "pyodide"
JOBS = 3
RUN_TIMEOUT = 600
SCENARIO_KEYS = [*SCENARIOS, "11"]


def oldest_msgspec(version: str) -> str:
    """The lowest msgspec version ``pyproject.toml``'s dependencies allow on CPython
    ``version`` (the ``>=`` bound of the ``msgspec`` requirement whose marker applies).

    Raises:
        LookupError: no ``msgspec>=...`` requirement applies to that interpreter.
    """
    project = tomllib.loads((envs.REPO / "pyproject.toml").read_text())["project"]
    env = {"python_version": ".".join(version.split(".")[:2]), "python_full_version": version}
    for line in project["dependencies"]:
        req = Requirement(line)
        if req.name == "msgspec" and (req.marker is None or req.marker.evaluate(env)):
            for spec in req.specifier:
                if spec.operator == ">=":
                    return spec.version
    raise LookupError(f"pyproject.toml declares no lower msgspec bound for Python {version}")


@dataclass
class Run:
    """One driver run: a kernel through one link."""

    kernel: str
    link: str
    host: str
    label: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    msgspec: str = ""

    def ok(self, scenario: str) -> tuple[bool, str]:
        if self.error:
            return False, self.error
        result = self.results.get(scenario)
        if result is None:
            return False, "did not run"
        return bool(result["ok"]), str(result["detail"])

    def all_ok(self) -> tuple[bool, str]:
        for key in SCENARIOS:
            ok, why = self.ok(key)
            if not ok:
                return False, f"scenario {key}: {why}"
        closing = self.results.get("close")
        if closing is not None and not closing["ok"]:
            return False, str(closing["detail"])
        return True, ""


@dataclass
class Matrix:
    """Every run of one matrix, and how long things took (seconds)."""

    runs: list[Run] = field(default_factory=list)
    browser: tuple[bool, str] = (False, "did not run")
    wheel_key: str = ""
    setup_seconds: float = 0.0
    total_seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def runs_of(self, kernel: str, label: str | None = None) -> list[Run]:
        return [r for r in self.runs if r.kernel == kernel and (label is None or r.label == label)]

    def cell(self, kernel: str, scenario: str) -> tuple[bool | None, str]:
        """``(ok, reason)`` of one interpreter x scenario; ``ok`` is ``None`` for n/a."""
        if scenario == "11":
            if kernel == PYODIDE:
                return None, "n/a: Pyodide 3.14 has one msgspec build (0.22.0, pinned)"
            notes = []
            for run in self.runs_of(kernel, "skew-kernel") + self.runs_of(kernel, "skew-host"):
                ok, why = run.all_ok()
                if not ok:
                    return False, f"{run.label} (msgspec {run.msgspec}): {why}"
                notes.append(f"{run.label} ({run.link}): {run.msgspec}")
            return (True, "; ".join(notes)) if notes else (False, "did not run")
        main = self.runs_of(kernel, "main")
        if not main:
            return False, "did not run"
        notes = []
        for run in main:
            ok, why = run.ok(scenario)
            if not ok:
                return False, f"{run.link}: {why}"
            notes.append(f"{run.link}: {why}")
        if scenario == "8" and kernel == PYODIDE:
            ok, why = self.browser
            if not ok:
                return False, f"Chromium: {why}"
            notes.append(why)
        return True, "; ".join(notes)


def _driver(host_python: Path, kernel_python: str, link: str) -> tuple[dict[str, Any], str]:
    env = envs.user_env()
    with_tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    proc = subprocess.run(
        [str(host_python), str(DRIVER), "--link", link, "--kernel-python", kernel_python],
        cwd=with_tmp, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]), ""
    except (IndexError, ValueError):
        return {}, f"driver exited {proc.returncode}: {proc.stderr.strip()[-600:]}"


def _run_driver(run: Run, host_python: Path, kernel_python: Path) -> Run:
    started = time.monotonic()
    try:
        data, error = _driver(host_python, str(kernel_python), run.link)
    except subprocess.TimeoutExpired:
        data, error = {}, f"driver timed out after {RUN_TIMEOUT} s"
    run.seconds = time.monotonic() - started
    run.error = error
    run.results = {r["scenario"]: r for r in data.get("results", [])}
    if data:
        run.host = data.get("host", run.host)
    return run


def _run_pyodide(run: Run, dist: Path, comm: Path) -> Run:
    from tests.compat.pyodide_link import run_pyodide

    started = time.monotonic()
    try:
        results = asyncio.run(run_pyodide(dist, comm, envs.CACHE / "pyodide-scratch"))
        run.results = {r["scenario"]: r for r in results}
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"[:400]
    run.seconds = time.monotonic() - started
    return run


def _browser(dist: Path) -> tuple[bool, str]:
    from tests.compat import browser

    try:
        return browser.check(browser.nan_in_browser(dist))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # pytest.fail() (no chromium) included: a FAIL cell, not a crash
        return False, f"{type(exc).__name__}: {exc}"[:400]


def run_matrix(log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True), jobs: int = JOBS) -> Matrix:
    """Build, set up and run everything (see the module docstring)."""
    from pyodide_host.build import ensure_dist

    t0 = time.monotonic()
    matrix = Matrix()
    with ThreadPoolExecutor(max_workers=4) as pool:
        dist_future = pool.submit(ensure_dist, False, quiet=True)
        wheel, key = envs.build_wheel()
        matrix.wheel_key = key
        log(f"compat: wheel {wheel.name} (content {key}); setting up venvs")
        normal = dict(zip(envs.PYTHONS, pool.map(lambda v: envs.kernel_venv(wheel, key, v), envs.PYTHONS)))
        oldest = {v: oldest_msgspec(v) for v in envs.PYTHONS}
        skewed = dict(zip(envs.PYTHONS, pool.map(lambda v: envs.msgspec_venv(wheel, key, v, oldest[v]), envs.PYTHONS)))
        dist = Path(dist_future.result())
    envs.prune([*normal.values(), *skewed.values()])
    msgspec_of = {str(p): envs.installed_msgspec(p) for p in (*normal.values(), *skewed.values())}
    matrix.setup_seconds = time.monotonic() - t0
    log(f"compat: set up in {matrix.setup_seconds:.1f} s; running")

    futures: list[Future[Run]] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures.append(pool.submit(_run_pyodide, Run(PYODIDE, "worker", "3.12", "main"), dist,
                                   _comm_dir(normal["3.12.1"])))
        browser_future = pool.submit(_browser, dist)
        for index, kernel in enumerate(envs.PYTHONS):
            host = HOST_OF[kernel]
            for link in ("subprocess", "app"):
                run = Run(kernel, link, host, "main", msgspec=msgspec_of[str(normal[kernel])])
                futures.append(pool.submit(_run_driver, run, normal[host], normal[kernel]))
            # The old side alternates links from one interpreter to the next: each of (old
            # kernel, old host) x (subprocess, app) is covered twice at the cost of 2 runs each.
            kernel_link, host_link = ("subprocess", "app") if index % 2 == 0 else ("app", "subprocess")
            run = Run(kernel, kernel_link, host, "skew-kernel",
                      msgspec=f"kernel {msgspec_of[str(skewed[kernel])]} <- host {msgspec_of[str(normal[host])]}")
            futures.append(pool.submit(_run_driver, run, normal[host], skewed[kernel]))
            run = Run(kernel, host_link, host, "skew-host",
                      msgspec=f"host {msgspec_of[str(skewed[host])]} -> kernel {msgspec_of[str(normal[kernel])]}")
            futures.append(pool.submit(_run_driver, run, skewed[host], normal[kernel]))
        for future in futures:
            run = future.result()
            ok = all(run.ok(k)[0] for k in SCENARIOS)
            log(f"compat: {run.kernel} {run.label}/{run.link}: {'PASS' if ok else 'FAIL'} in {run.seconds:.1f} s")
        matrix.runs = [f.result() for f in futures]
        matrix.browser = browser_future.result()
    matrix.total_seconds = time.monotonic() - t0
    return matrix


def _comm_dir(python: Path) -> Path:
    from tests.compat.pyodide_link import comm_package

    return comm_package(python)


def summary(matrix: Matrix) -> str:
    """The table: interpreter x scenario, PASS/FAIL, time per interpreter; then the reasons."""
    kernels = [*envs.PYTHONS, PYODIDE]
    head = f"{'kernel':<16}{'host':<9}" + "".join(f"{k:>6}" for k in SCENARIO_KEYS) + f"{'run time':>11}"
    lines = ["IPC compatibility matrix (links: subprocess = launch_kernel, app = app process over the",
             "multiplexed sockets, worker = Pyodide session boundary under Node + Chromium Web Worker)",
             "scenarios: " + "; ".join(f"{k} {v}" for k, v in SCENARIO_TITLES.items()), "", head,
             "-" * len(head)]
    failures, notes = [], []
    for kernel in kernels:
        runs = matrix.runs_of(kernel)
        name = "Pyodide 3.14" if kernel == PYODIDE else f"CPython {kernel}"
        host = ".".join(map(str, sys.version_info[:3])) if kernel == PYODIDE else HOST_OF[kernel]
        cells = []
        for key in SCENARIO_KEYS:
            ok, why = matrix.cell(kernel, key)
            cells.append("n/a" if ok is None else "PASS" if ok else "FAIL")
            if ok is False:
                failures.append(f"  {name} scenario {key}: {why}")
            elif key in ("10", "11") or (key == "8" and kernel == PYODIDE) or ok is None:
                notes.append(f"  {name} scenario {key}: {why}")
        seconds = sum(r.seconds for r in runs)
        lines.append(f"{name:<16}{host:<9}" + "".join(f"{c:>6}" for c in cells) + f"{seconds:>9.1f} s")
    lines.append("")
    lines.append("notes:")
    lines.extend(notes)
    if failures:
        lines.append("failures:")
        lines.extend(failures)
    lines.append("")
    lines.append(f"run time = wall time of that kernel's runs (they overlap: {JOBS} at a time); "
                 f"set-up (wheel, venvs, Pyodide dist) {matrix.setup_seconds:.1f} s; "
                 f"total wall time {matrix.total_seconds:.1f} s")
    return "\n".join(lines)
