"""Memory-snapshot boot (``python -m benchmarks snapshot``): a notebook (one cell, ``41 + 1``)
exported with ``amphi export html-wasm`` (which makes the snapshot under Node), then, in one
interleaved run:

* Node start -> first completed run, restored from the snapshot
  (``pyodide_host/node/snapshot.mjs boot --snapshot``: read + gunzip, restore, session, run);
  beside it the floor, a bare boot (``harness.mjs --floor``: ``loadPyodide`` + import msgspec),
  and the peer, the same kernel booted normally (``snapshot.mjs boot`` without a snapshot).
  Each is spawn -> the line reporting it, wall clock.  Target <= 0.5 s.  Reported twice:
  the first boot (its decompressed-container cache emptied before each round: read + gunzip)
  and the cached boot right after it (the container read decompressed from the cache the first
  one wrote; see ``snapshot.mjs``'s ``cacheFolder``).
* Chromium navigation -> the cell's output in the page (``performance.now()`` when a
  ``MutationObserver`` sees it), cold (fresh context) and warm (second navigation, HTTP cache
  and service worker in place; see :mod:`benchmarks.browser`); beside it a bare Pyodide page (worker ``loadPyodide`` +
  msgspec, :mod:`benchmarks.browser`) and the same notebook with ``memorySnapshot: false``.
  Targets: cold <= 1.2 s, warm <= 0.8 s.
* The snapshot's compressed size.  Target <= 8 MB.

``AMPHI_BENCH_RUNS`` sets the number of rounds (default 5); ``AMPHI_BENCH_SNAPSHOT_PARTS=node``
measures only the Node figures (and the size), ``=chromium`` only the browser ones.
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
PARTS = {p.strip() for p in os.environ.get("AMPHI_BENCH_SNAPSHOT_PARTS", "node,chromium").split(",")}


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


PHASES: dict[str, list[dict[str, float]]] = {"first": [], "cached": []}
"""``snapshot.mjs boot``'s per-step timestamps (ms since its process started) of the restored
runs, without ("first") and with the cache ("cached")."""


CPU: dict[str, list[float]] = {"first": [], "cached": [], "normal": []}
"""CPU seconds (user + system) of each ``snapshot.mjs boot`` process: restored without the
cache ("first"), from it ("cached"), booted without the snapshot ("normal")."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _node_boot(node: str, pyodide: Path, kind: str, cache: Path) -> float:
    """Spawn -> first completed run (s), wall clock; its CPU seconds go to :data:`CPU`.
    ``kind``: "first" (``cache`` emptied first), "cached" (after a "first") or "normal"."""
    snapshot = kind != "normal"
    args = [node, str(SNAPSHOT_SCRIPT), "boot", "--dist", str(pyodide), "--code", "answer = 41 + 1\nanswer"]
    if snapshot:
        args += ["--snapshot", str(pyodide / SNAPSHOT_FILE)]
    if kind == "first":
        shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "AMPHI_SNAPSHOT_CACHE": str(cache)}
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(60)  # a first boot writes the cache after its answer
    CPU[kind].append(_children_cpu() - cpu)
    result = json.loads(line)
    if result["snapshot"] != snapshot or not any("cell-output" in f for f in result["frames"]):
        raise RuntimeError(f"snapshot.mjs boot did not run the cell: {line[:300]}")
    if bool(result.get("cached")) != (kind == "cached"):
        raise RuntimeError(f"snapshot.mjs boot ({kind}) reported cached={result.get('cached')}")
    if snapshot and result.get("phases"):
        PHASES[kind].append(result["phases"])
    return elapsed


def _print_phases() -> None:
    """Median of each step of the restored Node boots, in the order they happen."""
    for kind, runs in PHASES.items():
        if not runs:
            continue
        names = sorted({k for p in runs for k in p}, key=lambda k: statistics.median(p.get(k, 0.0) for p in runs))
        steps = ", ".join(f"{k} {statistics.median(p[k] for p in runs if k in p):.0f}" for k in names)
        print(f"restored Node boot ({kind}), median ms since process start per step: {steps}")


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
        figures: list[Figure] = []
        if "node" in PARTS:
            cache = Path(tmp) / "snapshot-cache"
            boots: dict[str, list[float]] = {"first": [], "cached": [], "normal": []}
            floor: list[float] = []
            for _ in range(RUNS):  # interleaved: a busy machine slows all alike
                floor.append(_node_floor(pyodide))
                for kind in boots:  # "cached" right after the "first" that filled the cache
                    boots[kind].append(_node_boot(node, pyodide, kind, cache))
            figures += [
                Figure("Node start -> first completed run, from the snapshot, first boot (no cache: gunzip)", boots["first"],
                       floor=floor, floor_name="bare loadPyodide + import msgspec", target="<= 0.5 s", unit="s",
                       extra=f"CPU {statistics.median(CPU['first']):.2f} s"),
                Figure("Node start -> first completed run, from the snapshot, cached boot (decompressed copy)", boots["cached"],
                       floor=floor, floor_name="bare loadPyodide + import msgspec", target="<= 0.5 s", unit="s",
                       extra=f"CPU {statistics.median(CPU['cached']):.2f} s"),
                Figure("Node start -> first completed run, normal boot (peer)", boots["normal"], floor=floor,
                       floor_name="bare loadPyodide + import msgspec", unit="s",
                       extra=f"CPU {statistics.median(CPU['normal']):.2f} s"),
            ]  # fmt: skip
        if "chromium" not in PARTS:
            pass
        elif shutil.which("chromium") is None:
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
