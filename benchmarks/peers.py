"""``python -m benchmarks peers``: amphikernel beside marimo (issue 18, section 3).

marimo ``MARIMO_VERSION`` is pip-installed once into its own venv under ``build/peers/``
(:mod:`benchmarks.peers_venv`), on the same CPython as our kernel venv.  Each scenario runs as a
driver process per runtime (ours: :mod:`benchmarks.peers_ours` with ``KernelClient``; marimo:
:mod:`benchmarks.peers_marimo` through marimo's IPC entry points), the two interleaved round by
round, and both medians are printed with their ratio (marimo / ours: above 1 means we are
faster or smaller).  The app-server rows come from :mod:`benchmarks.peers_apps` (both servers
on several notebooks, sessions over WebSocket); the Pyodide-under-Node rows from
:mod:`benchmarks.peers_pyodide` (beside the bare-Pyodide floor: marimo has no Node host).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import peers_apps, peers_pyodide
from benchmarks.peers_venv import MARIMO_VERSION, ensure_peer_venv

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 3
PER_ROUND = {"startup": 4, "rerun": 300, "prints": 3, "html": 3, "slider": 3}


def _driver(runtime: str, peer_python: Path, scenario: str, runs: int) -> dict[str, Any]:
    if runtime == "ours":
        command = [sys.executable, "-m", "benchmarks.peers_ours", scenario, str(runs)]
    else:  # -P: the benchmarks/ directory must not shadow the stdlib (benchmarks/subprocess.py)
        command = [str(peer_python), "-P", str(REPO / "benchmarks" / "peers_marimo.py"), scenario, str(runs)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} {scenario} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _collect(peer_python: Path) -> dict[str, dict[str, dict[str, list[float]]]]:
    results: dict[str, dict[str, dict[str, list[float]]]] = {"ours": {}, "marimo": {}}
    for _ in range(ROUNDS):
        for scenario, runs in PER_ROUND.items():
            for runtime in ("ours", "marimo"):  # interleaved
                found = _driver(runtime, peer_python, scenario, runs)
                for key, values in found.items():
                    results[runtime].setdefault(f"{scenario}.{key}", {"v": []})["v"].extend(values)
    return results


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    peer_python = ensure_peer_venv()
    results = _collect(peer_python)
    ours = {k: v["v"] for k, v in results["ours"].items()}
    theirs = {k: v["v"] for k, v in results["marimo"].items()}
    rows: list[tuple[str, float, float, str]] = []

    def row(name: str, key: str, scale: float = 1e3, unit: str = "ms", stat: Any = statistics.median) -> None:
        rows.append((name, stat(ours[key]) * scale, stat(theirs[key]) * scale, unit))

    row("spawn -> ready", "startup.ready")
    row("spawn -> first completed run", "startup.first")
    row("trivial re-run round trip (median)", "rerun.samples")
    row("trivial re-run round trip (p99)", "rerun.samples", stat=_p99)
    row("20,000 printed lines (send -> completed-run)", "prints.samples")
    row("10 MB HTML output (send -> completed-run)", "html.samples")
    row("RSS at ready", "startup.rss", 1.0, "MiB")
    row("stop -> kernel exit", "startup.stop")
    row("1,000 slider updates -> idle (time)", "slider.samples")
    row("1,000 slider updates -> idle (runs of the dependent cell)", "slider.executions", 1.0, "runs")
    python = subprocess.run([str(peer_python), "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True, check=True).stdout.strip()
    apps = peers_apps.measure(peer_python, ROUNDS)
    for name, key in (("app server: first session of an app (connect -> output)", "first"),
                      ("app server: later session of that app (connect -> output)", "later")):
        rows.append((name, statistics.median(apps["ours"][key]) * 1e3, statistics.median(apps["marimo"][key]) * 1e3, "ms"))
    print(f"\n== peers: amphikernel vs marimo {MARIMO_VERSION}, both on CPython {python}, {ROUNDS} interleaved rounds ==")
    print(f"{'figure':58s} {'amphikernel':>14s} {'marimo':>14s}  ratio (marimo/ours)")
    for name, a, b, unit in rows:
        ratio = f"{b / a:6.1f}x" if a else "   -"
        print(f"{name:58s} {a:10.2f} {unit:>3s} {b:10.2f} {unit:>3s}  {ratio}")
    _print_pyodide()


def _print_pyodide() -> None:
    from pyodide_host.build import ensure_dist
    from pyodide_host.build.node_harness import node_executable

    title = "\n== peers, Pyodide under Node: marimo has no Node host; our figure beside the bare-Pyodide floor =="
    if node_executable() is None:
        print(f"{title}\nskipped: node is not installed")
        return
    found = peers_pyodide.measure(ensure_dist(quiet=True), starts=ROUNDS * 2, print_runs=ROUNDS * 3)
    print(title)
    print(f"{'figure':58s} {'amphikernel':>14s} {'bare Pyodide':>14s}  ratio (ours/floor)")
    for name, key, floor in (
        ("Node start -> first completed run", "first", "first_floor"),
        ("20,000 printed lines (kernel: -> completed-run)", "prints", "prints_floor"),
    ):
        a, b = statistics.median(found[key]) * 1e3, statistics.median(found[floor]) * 1e3
        print(f"{name:58s} {a:10.2f}  ms {b:10.2f}  ms  {a / b:6.2f}x")
    print("  floors: loadPyodide + msgspec import; print() of the same lines into io.StringIO (no kernel)")


if __name__ == "__main__":
    main()
