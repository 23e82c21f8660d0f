"""Runs INSIDE Pyodide (sent by ``test_lifecycle_in_pyodide.py`` through the Node harness):
pytest over the lifecycle tests, with the asyncio reader only, on Pyodide's own event loop
(``WebLoop.run_until_complete`` through WebAssembly stack switching).

``run(repo, pyproject, args)`` returns a JSON summary: exit code, outcome counts, the
failures' reports and the terminal output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from typing import Any


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []
        self.skips: dict[str, int] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed") or (
            report.when == "teardown" and report.outcome == "failed"
        ):
            outcome = report.outcome
            if outcome == "failed" and report.when != "call":
                outcome = "error"
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if outcome == "skipped" else "xpassed"
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            if outcome in ("failed", "error"):
                self.failures.append(f"{report.nodeid} ({report.when}):\n{report.longreprtext[-3000:]}")
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2])
                self.skips[reason] = self.skips.get(reason, 0) + 1

    def pytest_configure(self, config: Any) -> None:
        # pytest-timeout needs signals or threads, neither of which Pyodide has: its marker
        # stays known (the CPython run uses it), and the harness bounds the whole run.
        config.addinivalue_line("markers", "timeout(seconds): per-test timeout (not enforced in Pyodide)")
        import pytest_asyncio.plugin  # loaded (and assertion-rewritten) by pytest by now

        pytest_asyncio.plugin.Runner = WebLoopRunner  # type: ignore[attr-defined,misc]

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.counts["error"] = self.counts.get("error", 0) + 1
            self.failures.append(f"collecting {report.nodeid}:\n{report.longreprtext[-3000:]}")


class WebLoopRunner:
    """``asyncio.Runner`` for pytest-asyncio on Pyodide's WebLoop.

    The WebLoop is always registered as the running loop, so ``asyncio.Runner.run`` refuses
    to start; this one runs each coroutine with ``WebLoop.run_until_complete`` (stack
    switching) and cancels the tasks a test left behind when its scope closes.
    """

    def __init__(self, *, debug: bool | None = None, loop_factory: Any = None) -> None:
        import asyncio

        self._asyncio = asyncio
        self._loop = asyncio.get_event_loop()
        self._before: set[Any] = set()

    def __enter__(self) -> WebLoopRunner:
        self._before = set(self._asyncio.all_tasks(self._loop))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_loop(self) -> Any:
        return self._loop

    def run(self, coro: Any, *, context: Any = None) -> Any:
        task = self._loop.create_task(coro, context=context)
        return self._loop.run_until_complete(task)

    def close(self) -> None:
        leftovers = [t for t in self._asyncio.all_tasks(self._loop) if t not in self._before and not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            self._loop.run_until_complete(self._asyncio.gather(*leftovers, return_exceptions=True))


def run(repo: str, pyproject: str, args: list[str]) -> str:
    import pytest

    if hasattr(args, "to_py"):  # a JavaScript array
        args = args.to_py()
    os.makedirs(repo, exist_ok=True)
    with open(os.path.join(repo, "pyproject.toml"), "w") as fh:
        fh.write(pyproject)
    os.chdir(repo)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    tally = _Tally()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main(args, plugins=[tally])
    return json.dumps(
        {
            "exit_code": int(code),
            "counts": tally.counts,
            "skips": tally.skips,
            "failures": tally.failures,
            "output": output.getvalue()[-20000:],
            "python": sys.version,
            "platform": sys.platform,
        }
    )
