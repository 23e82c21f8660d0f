"""Pyodide-under-Node rows of ``python -m benchmarks peers``.  marimo has no Node host for its
Pyodide kernel, so each of our figures stands beside the bare-Pyodide floor instead of a peer:

* Node start -> first completed run (our harness, ``pyodide_host/node/harness.mjs``), beside
  the bare boot: ``loadPyodide`` + load and import msgspec (the harness's ``--floor``);
* 20,000 printed lines (``execute-cells`` handed in -> ``completed-run``, measured in Node),
  beside bare Pyodide printing the same 20,000 lines into an ``io.StringIO`` (no kernel, no
  messages), timed in Python inside the same Pyodide.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.pyodide import LINES, _first_run, _floor_start, _frame
from pyodide_host.build.node_harness import NodeHarness

BARE_PRINTS = f"""
import contextlib, io, time
_buffer = io.StringIO()
_t0 = time.perf_counter()
with contextlib.redirect_stdout(_buffer):
    for i in range({LINES}):
        print(i)
str(time.perf_counter() - _t0)
"""


def measure(dist: Path, starts: int, print_runs: int) -> dict[str, list[float]]:
    """``{"first", "first_floor", "prints", "prints_floor"}``, seconds (starts interleaved)."""
    out: dict[str, list[float]] = {"first": [], "first_floor": [], "prints": [], "prints_floor": []}
    for _ in range(starts):
        out["first_floor"].append(_floor_start(dist)[0])
        out["first"].append(_first_run(dist)[0])
    printing = _frame({"p": f"for i in range({LINES}):\n    print(i)"})
    with NodeHarness(dist) as h:
        h.wait_ready(180)
        h.control("bench", frame=printing, runs=1)  # warm-up
        h.control("exec", code=BARE_PRINTS)
        for _ in range(print_runs):  # interleaved
            out["prints"].extend(s / 1e3 for s in h.control("bench", timeout=300, frame=printing, runs=1)["samples_ms"])
            out["prints_floor"].append(float(h.control("exec", timeout=300, code=BARE_PRINTS)["result"]))
    return out
