"""Memory-snapshot boot (``python -m benchmarks snapshot``): a notebook (one cell, ``41 + 1``)
exported with ``amphi export html-wasm`` (which makes the snapshot under Node), then, in one
interleaved run:

* Node start -> first completed run, restored from the snapshot
  (``pyodide_host/node/snapshot.mjs boot --snapshot``: read + gunzip, restore, session, run);
  beside it the floor, a bare boot (``harness.mjs --floor``: ``loadPyodide`` + import msgspec),
  and the peer, the same kernel booted normally (``snapshot.mjs boot`` without a snapshot).
  Each is spawn -> the line reporting it, wall clock.  Target <= 0.5 s.
* Chromium navigation -> the cell's output in the page (``performance.now()`` when a
  ``MutationObserver`` sees it), cold (fresh context) and warm (second navigation, HTTP cache
  and service worker in place; see :mod:`benchmarks.browser`); beside it a bare Pyodide page (worker ``loadPyodide`` +
  msgspec, :mod:`benchmarks.browser`) and the same notebook with ``memorySnapshot: false``.
  Targets: cold <= 1.2 s, warm <= 0.8 s.
* The snapshot's compressed size.  Target <= 8 MB.

``AMPHI_BENCH_RUNS`` sets the number of rounds (default 5).
"""

from __future__ import annotations

import http.server
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.browser import (
    CHROMIUM_ARGS,
    FLOOR_HTML,
    FLOOR_WORKER,
    TIMEOUT_MS,
    _Handler,
    cold_and_warm,
)
from benchmarks.report import Figure, print_figures
from pyodide_host.build.node_harness import NodeHarness, node_executable
from pyodide_host.build.snapshot import SIDECAR, SNAPSHOT_FILE, SNAPSHOT_SCRIPT

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("AMPHI_BENCH_RUNS", "5"))
NOTEBOOK = "# %%\nanswer = 41 + 1\nanswer\n"


def _export(site: Path) -> None:
    notebook = site.parent / "bench.py"
    notebook.write_text(NOTEBOOK)
    amphi = Path(sys.executable).with_name("amphi")
    command = [str(amphi)] if amphi.is_file() else [sys.executable, "-m", "subprocess_host.cli"]
    proc = subprocess.run(
        [*command, "export", "html-wasm", str(notebook), "-o", str(site), "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"amphi export failed:\n{proc.stderr}")
    if not (site / "pyodide" / SIDECAR).is_file():
        raise RuntimeError("the export wrote no memory snapshot (is node installed?)")
    (site / "floor.html").write_text(FLOOR_HTML)
    (site / "floor-worker.mjs").write_text(FLOOR_WORKER)
    index = (site / "index.html").read_text(encoding="utf-8")
    if '"autorun": true' not in index:
        raise RuntimeError("index.html has no autorun option to extend")
    (site / "nosnap.html").write_text(index.replace('"autorun": true', '"autorun": true, "memorySnapshot": false'))


PHASES: list[dict[str, float]] = []
"""``snapshot.mjs boot``'s per-step timestamps (ms since its process started) of the restored runs."""


CPU: dict[bool, list[float]] = {True: [], False: []}
"""CPU seconds (user + system) of each ``snapshot.mjs boot`` process, restored (True) or not."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _node_boot(node: str, pyodide: Path, snapshot: bool) -> float:
    """Spawn -> first completed run (s), wall clock; its CPU seconds go to :data:`CPU`."""
    args = [node, str(SNAPSHOT_SCRIPT), "boot", "--dist", str(pyodide), "--code", "answer = 41 + 1\nanswer"]
    if snapshot:
        args += ["--snapshot", str(pyodide / SNAPSHOT_FILE)]
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(60)
    CPU[snapshot].append(_children_cpu() - cpu)
    result = json.loads(line)
    if result["snapshot"] != snapshot or not any("cell-output" in f for f in result["frames"]):
        raise RuntimeError(f"snapshot.mjs boot did not run the cell: {line[:300]}")
    if snapshot and result.get("phases"):
        PHASES.append(result["phases"])
    return elapsed


def _print_phases() -> None:
    """Median of each step of the restored Node boots, in the order they happen."""
    if not PHASES:
        return
    names = sorted({k for p in PHASES for k in p}, key=lambda k: statistics.median(p.get(k, 0.0) for p in PHASES))
    steps = ", ".join(f"{k} {statistics.median(p[k] for p in PHASES if k in p):.0f}" for k in names)
    print(f"restored Node boot, median ms since process start per step: {steps}")


def _node_floor(pyodide: Path) -> float:
    started = time.perf_counter()
    with NodeHarness(pyodide, ["--floor"]) as h:
        h.wait_ready(120)
        return time.perf_counter() - started


def _chromium(site: Path) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    class Handler(_Handler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(site), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    samples: dict[str, list[float]] = {k: [] for k in ("cold", "warm", "floor cold", "floor warm", "nosnap cold", "nosnap warm")}
    pages = (("floor", base + "floor.html", "window.__ready"), ("", base, "window.__firstOutput"), ("nosnap", base + "nosnap.html", "window.__firstOutput"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
            try:
                for _ in range(RUNS):
                    for prefix, url, expression in pages:
                        key = f"{prefix} " if prefix else ""
                        cold, warm = cold_and_warm(browser, url, expression)
                        samples[f"{key}cold"].append(cold)
                        samples[f"{key}warm"].append(warm)
            finally:
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    return samples


def main() -> None:
    node = node_executable()
    if node is None:
        print("\n== memory snapshot ==\nskipped: node is not installed")
        return
    with tempfile.TemporaryDirectory(prefix="amphi-bench-snapshot-") as tmp:
        site = Path(tmp) / "site"
        _export(site)
        pyodide = site / "pyodide"
        sidecar = json.loads((pyodide / SIDECAR).read_text())
        restored: list[float] = []
        normal: list[float] = []
        floor: list[float] = []
        for _ in range(RUNS):  # interleaved: a busy machine slows all three alike
            floor.append(_node_floor(pyodide))
            restored.append(_node_boot(node, pyodide, True))
            normal.append(_node_boot(node, pyodide, False))
        figures = [
            Figure("Node start -> first completed run, from the snapshot", restored, floor=floor,
                   floor_name="bare loadPyodide + import msgspec", target="<= 0.5 s", unit="s",
                   extra=f"CPU {statistics.median(CPU[True]):.2f} s"),
            Figure("Node start -> first completed run, normal boot (peer)", normal, floor=floor,
                   floor_name="bare loadPyodide + import msgspec", unit="s",
                   extra=f"CPU {statistics.median(CPU[False]):.2f} s"),
        ]  # fmt: skip
        if shutil.which("chromium") is None:
            print("chromium is not installed: browser figures skipped", file=sys.stderr)
        else:
            b = _chromium(site)
            for kind, target in (("cold", "<= 1.2 s"), ("warm", "<= 0.8 s")):
                figures.append(Figure(f"Chromium {kind} navigation -> first output (snapshot)", b[kind], floor=b[f"floor {kind}"],
                                      floor_name="bare Pyodide page: worker loadPyodide + msgspec", target=target, unit="s"))  # fmt: skip
                figures.append(Figure(f"Chromium {kind} navigation -> first output (no snapshot, peer)", b[f"nosnap {kind}"],
                                      floor=b[f"floor {kind}"], floor_name="bare Pyodide page", unit="s"))  # fmt: skip
        size = float(sidecar["compressed_bytes"])
        figures.append(Figure("snapshot size, gzip", [size / 1e6], target="<= 8 MB", unit="MB",
                              extra=f"raw {sidecar['raw_bytes'] / 1e6:.1f} MB, memory {sidecar['memory_bytes'] / 1e6:.1f} MB"))  # fmt: skip
        print_figures(f"memory snapshot (Pyodide {sidecar['pyodide']}, {RUNS} rounds, timeout {TIMEOUT_MS / 1e3:g} s)", figures)
        _print_phases()
        print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
