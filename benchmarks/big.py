"""Big-notebook benchmarks (issue 18, section 2): the generated 1,000-cell notebook of
:mod:`benchmarks.big_notebook` (900 code cells, 100 markdown).

Figures (medians, each beside its floor or target):

* subprocess host, open + run all: read the percent file (``read_notebook``), spawn the kernel
  (``KernelClient``), send one ``execute-cells`` with every code cell, until ``completed-run``
  reaches the host.  Floor: ``python notebook.py`` (the notebook run as a plain script in a new
  process).  Target <= 1 s.  Beside it the CPU seconds it used (kernel + host processes, and
  the script's): on a loaded machine the wall figure mostly measures waiting for a core.
  Also the run alone, on a ready kernel.
* Pyodide under Node, run all after boot: a fresh harness, its first ``execute-cells`` frame
  with every code cell until ``completed-run`` (measured inside Node).  Target <= 2 s.  Beside
  it the Node process's CPU seconds for that run (load-independent).
* edit one cell near the top (a parameter cell that ~850 cells depend on): host overhead,
  i.e. graph update (``Kernel.register_cells``) + scheduling (``_run_order`` and the
  structural checks), measured on an in-process kernel holding the run notebook.  Target
  <= 5 ms.  Beside it: the whole re-run, the cells' own ``exec`` time (``run_compiled_sync``)
  and the remainder (per-cell bookkeeping: statuses, outputs, hooks), not a target.
* the same edit through the subprocess host: ``execute-cells`` -> ``completed-run`` at the host.
* Chromium edit view (:mod:`benchmarks.big_browser`): first paint of all 1,000 cells, and
  typing latency while outputs stream.

``python -m benchmarks big``; ``AMPHI_BIG_BROWSER=0 python -m benchmarks big`` leaves out the
Chromium figures (subprocess, in-process and Node figures only); ``AMPHI_BIG_BROWSER=only``
gives the Chromium figures alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.big_notebook import EDIT_INDEX, code_cells, edited_code, generate, to_percent
from benchmarks.report import Figure, print_figures
from lifecycle import protocol

RUNS = 7
EDITS = 40


def _execute_all(cells: list[Any]) -> protocol.ExecuteCells:
    return protocol.ExecuteCells(cell_ids=[c.id for c in cells], codes=[c.source for c in cells], order=[c.id for c in cells])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat``)."""
    import os

    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _subprocess_open_run(path: Path) -> tuple[float, float, int, float]:
    """(read + spawn + run all -> completed-run, run all on the ready kernel, outputs seen,
    CPU seconds the open + run all took: the kernel process's plus this process's)."""
    from lifecycle.notebook import read_notebook
    from subprocess_host.client import KernelClient

    done = asyncio.Event()
    outputs = [0]

    def on(note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.CellOutput):
            outputs[0] += 1
        elif isinstance(note, protocol.CompletedRun):
            done.set()

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    nb = read_notebook(path)
    code = [c for c in nb.cells if c.kind == "code"]
    client = KernelClient()
    client.on_notification(on)
    await client.start()
    try:
        await client.send(_execute_all(code))
        await asyncio.wait_for(done.wait(), 120)
        open_run = time.perf_counter() - t0
        assert client.pid is not None
        cpu = time.process_time() - cpu0 + _cpu_seconds(client.pid)
        done.clear()
        t1 = time.perf_counter()
        await client.send(_execute_all(code))
        await asyncio.wait_for(done.wait(), 120)
        return open_run, time.perf_counter() - t1, outputs[0], cpu
    finally:
        await client.shutdown()


async def _subprocess_edits(path: Path, runs: int) -> list[float]:
    from lifecycle.notebook import read_notebook
    from subprocess_host.client import KernelClient

    cells = generate()
    done = asyncio.Event()

    def on(note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.CompletedRun):
            done.set()

    nb = read_notebook(path)
    client = KernelClient()
    client.on_notification(on)
    await client.start()
    samples = []
    try:
        await client.send(_execute_all([c for c in nb.cells if c.kind == "code"]))
        await asyncio.wait_for(done.wait(), 120)
        edited = nb.cells[EDIT_INDEX].id  # percent files carry no ids: same cell by position
        for bump in range(1, runs + 1):
            _, code = edited_code(cells, bump=bump)
            cid = edited
            done.clear()
            t0 = time.perf_counter()
            await client.send(protocol.ExecuteCells(cell_ids=[cid], codes=[code]))
            await asyncio.wait_for(done.wait(), 120)
            samples.append(time.perf_counter() - t0)
        return samples
    finally:
        await client.shutdown()


def _script_floor(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _in_process_edits(runs: int) -> dict[str, list[float]]:
    """Per edit: graph update + scheduling, the whole re-run, the cells' own exec time."""
    import lifecycle.kernel.core as kernel_core
    from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel

    cells = generate()
    code = code_cells(cells)
    own = [0.0]
    original = kernel_core.run_compiled_sync

    def timed(compiled: Any, namespace: dict[str, Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return original(compiled, namespace)
        finally:
            own[0] += time.perf_counter() - t0

    kernel, runtime = create_kernel(KernelArgs(), protocol.encode)
    kernel_core.run_compiled_sync = timed  # type: ignore[assignment]
    out: dict[str, list[float]] = {"graph": [], "total": [], "own": [], "count": []}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=[c.cell_id for c in code], codes=[c.code for c in code])))

            async def edits() -> None:
                for bump in range(1, runs + 1):
                    cid, new = edited_code(cells, bump=bump)
                    own[0] = 0.0
                    t0 = time.perf_counter()
                    roots = kernel.register_cells({cid: new})
                    order, _ = kernel._run_order(list(roots))
                    kernel.graph.errors(order)
                    t1 = time.perf_counter()
                    # The run repeats the scheduling step (cheap, now that it is measured).
                    ran = await kernel.run(roots)
                    t2 = time.perf_counter()
                    out["graph"].append(t1 - t0)
                    out["total"].append(t2 - t1)
                    out["own"].append(own[0])
                    out["count"].append(len(ran))

            asyncio.run(edits())
    finally:
        kernel_core.run_compiled_sync = original  # type: ignore[assignment]
        teardown_kernel(kernel, runtime)
    return out


def _pyodide_run_all() -> list[Figure] | str:
    from pyodide_host.build import ensure_dist
    from pyodide_host.build.node_harness import NodeHarness, node_executable

    if node_executable() is None:
        return "node is not installed"
    import base64

    dist = ensure_dist(quiet=True)
    code = code_cells(generate())
    frame = base64.b64encode(protocol.encode(protocol.ExecuteCells(cell_ids=[c.cell_id for c in code], codes=[c.code for c in code]))).decode()
    first: list[float] = []
    first_cpu: list[float] = []
    again: list[float] = []
    for _ in range(3):
        with NodeHarness(dist) as h:
            h.wait_ready(180)
            h.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=60)
            cpu0 = _cpu_seconds(h.proc.pid)
            first.extend(s / 1e3 for s in h.control("bench", timeout=300, frame=frame, runs=1)["samples_ms"])
            first_cpu.append(_cpu_seconds(h.proc.pid) - cpu0)
            again.extend(s / 1e3 for s in h.control("bench", timeout=300, frame=frame, runs=3)["samples_ms"])
    return [
        Figure("Pyodide (Node): run all 1,000 cells, fresh kernel after boot", first, target="<= 2 s", unit="s"),
        Figure("  CPU time of it (the Node process, all its threads)", first_cpu, target="(load-independent view of the above)",
               unit="s"),
        Figure("Pyodide (Node): run all again (same kernel)", again, target="(not a target)", unit="s"),
    ]


def main() -> None:
    if os.environ.get("AMPHI_BIG_BROWSER") == "only":
        _browser_figures()
        return
    cells = generate()
    with tempfile.TemporaryDirectory(prefix="amphi-big-") as tmp:
        path = Path(tmp) / "big.py"
        path.write_text(to_percent(cells))
        opened: list[float] = []
        rerun_all: list[float] = []
        floor: list[float] = []
        cpu: list[float] = []
        floor_cpu: list[float] = []
        outputs = 0
        for _ in range(RUNS):  # interleaved with the floor: a busy machine slows both alike
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            floor.append(_script_floor(path))
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            floor_cpu.append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
            open_run, again, outputs, used = asyncio.run(_subprocess_open_run(path))
            opened.append(open_run)
            cpu.append(used)
            rerun_all.append(again)
        remote_edits = asyncio.run(_subprocess_edits(path, EDITS))
    edits = _in_process_edits(EDITS)
    bookkeeping = [t - o for t, o in zip(edits["total"], edits["own"], strict=True)]
    count = statistics.median(edits["count"])
    figures = [
        Figure("subprocess: open + run all (read, spawn, run -> completed-run)", opened, floor,
               "python big.py (plain script, new process)", "<= 1 s", unit="s", extra=f"result outputs: {outputs}"),
        Figure("  CPU time of it (kernel process + host process)", cpu, floor_cpu, "CPU time of python big.py",
               "(load-independent view of the above)", unit="s"),
        Figure("subprocess: run all again on the ready kernel", rerun_all, target="(not a target)", unit="s"),
        Figure(f"edit near the top -> {count:g} dependents: graph update + scheduling", edits["graph"], target="<= 5 ms"),
        Figure("  the re-run of those cells, whole (in process)", edits["total"], target="(not a target)"),
        Figure("  of which the cells' own exec", edits["own"], target="(not a target)"),
        Figure("  of which per-cell bookkeeping (statuses, outputs, hooks)", bookkeeping, target="(not a target)",
               extra=f"{statistics.median(bookkeeping) / count * 1e6:.1f} us per cell"),
        Figure("subprocess: the same edit, execute-cells -> completed-run", remote_edits, target="(not a target)"),
    ]
    print_figures("big notebook (1,000 cells: 900 code, 100 markdown)", figures)
    node = _pyodide_run_all()
    if isinstance(node, str):
        print(f"\n== big notebook, Pyodide under Node ==\nskipped: {node}", file=sys.stderr)
    else:
        print_figures("big notebook, Pyodide under Node", node)
    if os.environ.get("AMPHI_BIG_BROWSER", "1") == "0":
        return
    _browser_figures()


def _browser_figures() -> None:
    try:
        from benchmarks import big_browser
    except ImportError:
        return
    browser = big_browser.measure()
    if isinstance(browser, str):
        print(f"\n== big notebook, Chromium edit view ==\nskipped: {browser}", file=sys.stderr)
    else:
        print_figures("big notebook, Chromium edit view", browser)


if __name__ == "__main__":
    main()
