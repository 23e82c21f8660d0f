"""Pyodide-host benchmarks: a kernel session in Pyodide under Node (``pyodide_host/node/harness.mjs``).

Figures:

* Node start -> first completed run: a fresh ``node harness.mjs`` process is spawned and an
  ``execute-cells`` frame is written to it at once; the time until its ``completed-run``
  arrives.  Floor: the same harness with ``--floor`` (bare ``loadPyodide`` + load and import
  msgspec, then report).  Target: <= floor + 0.4 s.
* Trivial re-run: one ``execute-cells`` frame handed to ``session.handle_frame`` until the
  ``completed-run`` frame reaches the JS callback, measured inside Node (no pipe).  Target
  <= 1 ms.
* 20,000 printed lines: the same for a cell printing 20,000 lines, plus how many
  ``cell-console`` messages carried them.  Target <= 150 ms and <= 20 messages.

Chromium figures (:mod:`benchmarks.browser`): navigation -> first output of an exported
notebook, cold and warm, beside a bare Pyodide page (worker ``loadPyodide`` + msgspec) served
the same way.  Target <= floor + 0.5 s.

``python -m benchmarks pyodide`` once registered; ``python -m benchmarks.pyodide`` directly.
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from pathlib import Path

from benchmarks.report import Figure, print_figures
from lifecycle import protocol
from pyodide_host.build import ensure_dist
from pyodide_host.build.node_harness import NodeHarness, node_executable

START_RUNS = 5
RERUNS = 300
PRINT_RUNS = 10
LINES = 20_000


def _frame(cells: dict[str, str]) -> str:
    command = protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()))
    return base64.b64encode(protocol.encode(command)).decode()


def _floor_start(dist: Path) -> tuple[float, float]:
    """Spawn -> floor ready (s), and in Node: loadPyodide returned -> msgspec imported (s)."""
    started = time.perf_counter()
    with NodeHarness(dist, ["--floor"]) as h:
        timings = h.wait_ready(120)
        return h.events[0]["at"] - started, (timings["ready_ms"] - timings["boot_ms"]) / 1e3


def _first_run(dist: Path) -> tuple[float, float]:
    """Spawn -> first completed-run (s), and in Node: loadPyodide returned -> first run (s)."""
    started = time.perf_counter()
    with NodeHarness(dist) as h:
        h.send(protocol.ExecuteCells(cell_ids=["a"], codes=["x = 1"]))
        h.wait_for(lambda n: isinstance(n, protocol.CompletedRun), timeout=120)
        index = next(i for i, n in enumerate(h.notifications) if isinstance(n, protocol.CompletedRun))
        wall = h.frame_times[index] - started
        h._wait(lambda: next((e for e in h.events if e.get("event") == "first-completed-run"), None), 30, "timings")
        event = next(e for e in h.events if e.get("event") == "first-completed-run")
        return wall, (event["ms"] - event["boot_ms"]) / 1e3


def measure(dist: Path) -> list[Figure]:
    floor: list[float] = []
    first: list[float] = []
    floor_after_boot: list[float] = []
    first_after_boot: list[float] = []
    for _ in range(START_RUNS):  # interleaved: a busy machine slows both alike
        wall, after_boot = _floor_start(dist)
        floor.append(wall)
        floor_after_boot.append(after_boot)
        wall, after_boot = _first_run(dist)
        first.append(wall)
        first_after_boot.append(after_boot)
    with NodeHarness(dist) as h:
        h.wait_ready(120)
        h.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=60)
        trivial = _frame({"a": "x = 1"})
        h.control("bench", frame=trivial, runs=50)  # warm-up (first compile, caches)
        rerun = h.control("bench", frame=trivial, runs=RERUNS)["samples_ms"]
        printing = _frame({"p": f"for i in range({LINES}):\n    print(i)"})
        h.control("bench", frame=printing, runs=1, count=["cell-console"])  # warm-up
        printed = h.control("bench", timeout=300, frame=printing, runs=PRINT_RUNS, count=["cell-console"])
    messages = [c[0] for c in printed["counts"]]
    return [
        Figure.over_floor("Node start -> first completed run (Pyodide)", first, floor, "node: loadPyodide + msgspec", 0.4),
        Figure(
            "  of which after loadPyodide (in Node)",
            first_after_boot,
            floor=floor_after_boot,
            floor_name="msgspec load + import",
            target="<= floor + 0.4 s",
            unit="s",
            extra=f"over floor: {statistics.median(first_after_boot) - statistics.median(floor_after_boot):+.3f} s",
        ),
        Figure("trivial re-run (handle_frame -> completed-run, in Node)", [s / 1e3 for s in rerun], target="<= 1 ms"),
        Figure(
            f"{LINES:,} printed lines (in Node)",
            [s / 1e3 for s in printed["samples_ms"]],
            target="<= 150 ms, <= 20 messages",
            extra=f"cell-console messages: median {statistics.median(messages):g}, max {max(messages)}",
        ),
    ]


def main() -> None:
    if node_executable() is None:
        print("\n== Pyodide host (Node) ==\nskipped: node is not installed", file=sys.stderr)
        return
    dist = ensure_dist(quiet=True)
    print_figures("Pyodide host (Pyodide under Node)", measure(dist))
    from benchmarks import browser

    figures = browser.measure()
    if isinstance(figures, str):
        print(f"\n== Pyodide host (Chromium) ==\nskipped: {figures}", file=sys.stderr)
    else:
        print_figures("Pyodide host (Chromium: exported notebook, static server)", figures)


if __name__ == "__main__":
    main()
