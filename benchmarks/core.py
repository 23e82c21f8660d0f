"""Core benchmarks (in process): kernel creation, re-run latency through the control loop,
incremental graph update, running a 1,000-cell notebook, UI-merge under 1,000 updates."""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.report import Figure, print_figures, repeat
from lifecycle import protocol
from lifecycle.graph import DataflowGraph
from lifecycle.kernel_lifecycle import (
    KernelArgs,
    asyncio_queue_reader,
    create_kernel,
    listen_messages,
    submit_command,
    teardown_kernel,
    threaded_queue_reader,
)

RUNS = 25


def _encode_emit(sink: list[Any] | None = None) -> Callable[[Any], None]:
    """An emit that encodes every notification, as a real channel does."""
    encode = protocol.encode

    def emit(note: Any) -> None:
        frame = encode(note)
        if sink is not None:
            sink.append(frame)

    return emit


def bench_create_kernel() -> Figure:
    def once() -> None:
        kernel, runtime = create_kernel(KernelArgs(), _encode_emit())
        teardown_kernel(kernel, runtime)

    import types

    floor = repeat(lambda: types.ModuleType("__main__"), RUNS * 4)
    return Figure("create_kernel + teardown_kernel", repeat(once, RUNS * 4), floor, "new module object")


class _LoopDriver:
    """A kernel serving its control loop with a given reader; ``roundtrip`` times one
    command from submit to ``completed-run`` as seen by the submitting side."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.done = threading.Event()
        self.runs_seen: list[list[str]] = []

        def emit(note: Any) -> None:
            protocol.encode(note)
            if isinstance(note, protocol.CompletedRun):
                self.runs_seen.append(note.cell_ids)
                self.done.set()

        self.kernel, self.runtime = create_kernel(KernelArgs(), emit)

    def close(self) -> None:
        teardown_kernel(self.kernel, self.runtime)


def bench_rerun_threaded(cells: dict[str, str], command_for: Callable[[], Any], runs: int = 200) -> list[float]:
    driver = _LoopDriver("threaded")
    cq: queue.Queue[Any] = queue.Queue()
    uq: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(
        target=lambda: asyncio.run(listen_messages(driver.kernel, cq, uq, threaded_queue_reader)), daemon=True
    )
    thread.start()
    try:
        submit_command(cq, uq, protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
        driver.done.wait(10)
        samples = []
        for _ in range(runs):
            driver.done.clear()
            t0 = time.perf_counter()
            submit_command(cq, uq, command_for())
            driver.done.wait(10)
            samples.append(time.perf_counter() - t0)
        return samples
    finally:
        submit_command(cq, uq, protocol.Stop())
        thread.join(10)
        driver.close()


async def _rerun_asyncio(runs: int) -> list[float]:
    driver = _LoopDriver("asyncio")
    cq: asyncio.Queue[Any] = asyncio.Queue()
    uq: asyncio.Queue[Any] = asyncio.Queue()
    loop_done: asyncio.Event = asyncio.Event()
    task = asyncio.get_running_loop().create_task(listen_messages(driver.kernel, cq, uq, asyncio_queue_reader))
    orig_emit = driver.kernel.emit

    def emit(note: Any) -> None:
        orig_emit(note)
        if isinstance(note, protocol.CompletedRun):
            loop_done.set()

    driver.kernel.emit = emit
    try:
        submit_command(cq, uq, protocol.ExecuteCells(cell_ids=["a"], codes=["x = 1"]))
        await loop_done.wait()
        samples = []
        for _ in range(runs):
            loop_done.clear()
            t0 = time.perf_counter()
            submit_command(cq, uq, protocol.ExecuteCells(cell_ids=["a"], codes=["x = 1"]))
            await loop_done.wait()
            samples.append(time.perf_counter() - t0)
        return samples
    finally:
        submit_command(cq, uq, protocol.Stop())
        await task
        driver.close()


async def _queue_floor(runs: int) -> list[float]:
    """asyncio queue hand-off + exec of a trivial code object: the loop's bare mechanism."""
    q: asyncio.Queue[Any] = asyncio.Queue()
    back: asyncio.Queue[Any] = asyncio.Queue()
    code = compile("x = 1", "<floor>", "exec")
    ns: dict[str, Any] = {}

    async def server() -> None:
        while (item := await q.get()) is not None:
            exec(code, ns)
            back.put_nowait(item)

    task = asyncio.get_running_loop().create_task(server())
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        q.put_nowait(i)
        await back.get()
        samples.append(time.perf_counter() - t0)
    q.put_nowait(None)
    await task
    return samples


def _thread_floor(runs: int) -> list[float]:
    """queue.Queue hand-off to a thread and an Event back: the threaded host's bare mechanism."""
    q: queue.Queue[Any] = queue.Queue()
    done = threading.Event()

    def server() -> None:
        while q.get() is not None:
            done.set()

    t = threading.Thread(target=server, daemon=True)
    t.start()
    samples = []
    for i in range(runs):
        done.clear()
        t0 = time.perf_counter()
        q.put(i)
        done.wait()
        samples.append(time.perf_counter() - t0)
    q.put(None)
    t.join()
    return samples


def bench_graph_update() -> list[Figure]:
    """A 1,000-cell chain (each cell reads the one above).  The update is re-analysing the
    changed cell and re-indexing its names, plus its new parents and children; computing the
    run order then walks the 500 cells downstream of it."""
    g = DataflowGraph()
    for i in range(1000):
        g.upsert(f"c{i}", f"v{i} = v{i - 1} + 1" if i else "v0 = 0")
    flip = [0]

    def update() -> None:
        flip[0] += 1
        g.upsert("c500", f"v500 = v499 + {flip[0]}")
        g.parents("c500")
        g.children("c500")

    import ast

    floor = repeat(lambda: ast.parse("v500 = v499 + 1"), 200)
    return [
        Figure("graph update: 1 changed cell of 1,000", repeat(update, 200), floor, "ast.parse of that cell", "< 1 ms"),
        Figure("run order after it (500 cells downstream)", repeat(lambda: g.run_order(["c500"]), 200), None, "", "(not a target)"),
    ]


def bench_run_all() -> Figure:
    codes = [f"x{i} = {i}" for i in range(1000)]
    ids = [f"c{i}" for i in range(1000)]

    def once() -> None:
        kernel, runtime = create_kernel(KernelArgs(), _encode_emit())
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=ids, codes=codes)))
        teardown_kernel(kernel, runtime)

    compiled = [compile(c, "<floor>", "exec") for c in codes]

    def floor_once() -> None:
        ns: dict[str, Any] = {}
        for c in compiled:
            exec(c, ns)

    return Figure(
        "run all cells of a 1,000-cell trivial notebook", repeat(once, RUNS), repeat(floor_once, RUNS),
        "exec of 1,000 precompiled cells", "< 300 ms",
    )


SLIDER_CELLS = {
    "s": "from lifecycle import ui\ns = ui.slider(0, 10_000)",
    "dep": "seen = s.value",
}


def _ui_trial(reader: str) -> tuple[float, int]:
    """One trial: seconds from the first of 1,000 slider updates until a marker cell queued
    after the last has run, and how often the dependent cell ran meanwhile."""
    ran_dep = [0]
    marker_done = threading.Event()

    def emit(note: Any) -> None:
        protocol.encode(note)
        if isinstance(note, protocol.CellStatus) and note.cell_id == "dep" and note.status == "running":
            ran_dep[0] += 1
        if isinstance(note, protocol.CompletedRun) and note.cell_ids[-1:] == ["marker"]:
            marker_done.set()

    kernel, runtime = create_kernel(KernelArgs(), emit)
    setup = protocol.ExecuteCells(cell_ids=[*SLIDER_CELLS, "marker"], codes=[*SLIDER_CELLS.values(), "m = 0"])

    def updates(cq: Any, uq: Any) -> float:
        ran_dep[0] = 0
        marker_done.clear()
        element_id = next(iter(kernel.extensions["ui"].elements))
        t0 = time.perf_counter()
        for v in range(1, 1001):
            submit_command(cq, uq, protocol.UpdateUIElement(values={element_id: v}))
        submit_command(cq, uq, protocol.ExecuteCells(cell_ids=["marker"], codes=["m = 0"]))
        return t0

    async def asyncio_scenario() -> float:
        cq: asyncio.Queue[Any] = asyncio.Queue()
        uq: asyncio.Queue[Any] = asyncio.Queue()
        task = asyncio.get_running_loop().create_task(listen_messages(kernel, cq, uq, asyncio_queue_reader))
        submit_command(cq, uq, setup)
        while not marker_done.is_set():
            await asyncio.sleep(0)
        t0 = updates(cq, uq)
        while not marker_done.is_set():
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - t0
        submit_command(cq, uq, protocol.Stop())
        await task
        return elapsed

    def threaded_scenario() -> float:
        tq: queue.Queue[Any] = queue.Queue()
        tu: queue.Queue[Any] = queue.Queue()
        thread = threading.Thread(
            target=lambda: asyncio.run(listen_messages(kernel, tq, tu, threaded_queue_reader)), daemon=True
        )
        thread.start()
        submit_command(tq, tu, setup)
        marker_done.wait(10)
        t0 = updates(tq, tu)
        marker_done.wait(10)
        elapsed = time.perf_counter() - t0
        submit_command(tq, tu, protocol.Stop())
        thread.join(10)
        return elapsed

    try:
        elapsed = asyncio.run(asyncio_scenario()) if reader == "asyncio" else threaded_scenario()
        if kernel.globals.get("seen") != 1000:
            raise AssertionError(f"kernel ended on {kernel.globals.get('seen')!r}, not the last value 1000")
        return elapsed, ran_dep[0]
    finally:
        teardown_kernel(kernel, runtime)


def bench_ui_updates(reader: str) -> Figure:
    """1,000 back-to-back slider updates submitted while idle, timed until the kernel is idle."""
    trials = [_ui_trial(reader) for _ in range(RUNS)]
    executions = sorted(n for _, n in trials)
    gc.collect()
    return Figure(
        f"1,000 back-to-back slider updates to idle ({reader})", [t for t, _ in trials], None, "",
        "< 20 ms, <= 3 runs",
        extra=f"dependent cell ran: median {executions[len(executions) // 2]}, max {executions[-1]}; ends on last value",
    )


PRINT_20K = "for i in range(20000):\n    print(i)"


def bench_console(mode: str) -> Figure:
    """20,000 printed lines captured and delivered as cell-console messages."""
    counts: list[int] = []

    def once() -> None:
        notes: list[Any] = []
        kernel, runtime = create_kernel(KernelArgs(console=mode), notes.append)  # type: ignore[arg-type]
        try:
            asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=["p"], codes=[PRINT_20K])))
        finally:
            teardown_kernel(kernel, runtime)
        chunks = [n for n in notes if isinstance(n, protocol.CellConsole)]
        if "".join(c.text for c in chunks) != "".join(f"{i}\n" for i in range(20000)):
            raise AssertionError(f"{mode}: captured text differs")
        counts.append(len(chunks))

    def timed() -> float:
        # time the cell run only: kernel creation is measured elsewhere
        notes: list[Any] = []
        kernel, runtime = create_kernel(KernelArgs(console=mode), notes.append)  # type: ignore[arg-type]
        try:
            t0 = time.perf_counter()
            asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=["p"], codes=[PRINT_20K])))
            return time.perf_counter() - t0
        finally:
            teardown_kernel(kernel, runtime)
            counts.append(sum(isinstance(n, protocol.CellConsole) for n in notes))

    once()
    samples = [timed() for _ in range(RUNS)]
    import io
    import sys

    def floor_once() -> None:
        saved, sys.stdout = sys.stdout, io.StringIO()
        try:
            for i in range(20000):
                print(i)
        finally:
            sys.stdout = saved

    return Figure(
        f"20,000 printed lines captured + delivered ({mode})", samples, repeat(floor_once, RUNS),
        "print into a StringIO", "< 30 ms, <= 20 msgs", extra=f"messages: max {max(counts)}",
    )


def bench_shared_memory() -> list[Figure]:
    """A 10 MB virtual file written to shared memory and read by another process."""
    import subprocess
    import sys

    from lifecycle.virtual_files import create_store

    data = bytes(range(256)) * (10_000_000 // 256)
    store = create_store("shared_memory")
    assert store is not None
    reader = (
        "import sys, time; from lifecycle.virtual_files import read_shared; t0 = time.perf_counter(); "
        "d = read_shared(sys.argv[1], int(sys.argv[2])); sys.stdout.write(f'{time.perf_counter() - t0} {len(d)}')"
    )
    writes: list[float] = []
    reads: list[float] = []
    try:
        for _ in range(RUNS):
            t0 = time.perf_counter()
            vf = store.create(data, "big.bin")
            writes.append(time.perf_counter() - t0)
            out = subprocess.run([sys.executable, "-c", reader, vf.shm_name or "", str(vf.size)], capture_output=True, text=True, check=True, timeout=60)
            secs, size = out.stdout.split()
            if int(size) != len(data):
                raise AssertionError("short read")
            reads.append(float(secs))
            store.release(vf.url)
    finally:
        store.shutdown()
    copy_floor = repeat(lambda: bytearray(data), RUNS)
    return [
        Figure("10 MB shared-memory virtual file: write", writes, copy_floor, "bytearray copy of 10 MB"),
        Figure("10 MB shared-memory virtual file: read in another process", reads, copy_floor, "bytearray copy of 10 MB"),
    ]


def bench_completion() -> Figure:
    """Warm jedi completions in a typical namespace (300 globals, os/json/collections)."""
    import collections
    import json
    import os

    from lifecycle.completion import complete, warm_up

    namespace: dict[str, Any] = {f"var_{i}": i for i in range(100)}
    namespace.update({f"func_{i}": (lambda x, i=i: x + i) for i in range(100)})
    namespace.update({f"obj_{i}": collections.OrderedDict(a=i) for i in range(100)})
    namespace.update(os=os, json=json, collections=collections, my_var=3)
    warm_up()
    samples = []
    for code in ["my_v", "os.pa", "json.lo", "obj_1.", "var_", "func_3("] * 5:
        t0 = time.perf_counter()
        complete(code, len(code), namespace)
        samples.append(time.perf_counter() - t0)
    return Figure("completion, warm, typical namespace (6 request shapes)", samples, None, "", "< 100 ms")


def main() -> None:
    figures = [bench_create_kernel()]
    rerun_async = asyncio.run(_rerun_asyncio(500))
    figures.append(Figure("trivial re-run through listen_messages (asyncio reader)", rerun_async, asyncio.run(_queue_floor(500)), "asyncio queue hand-off + exec", "< 0.2 ms"))
    rerun_thread = bench_rerun_threaded({"a": "x = 1"}, lambda: protocol.ExecuteCells(cell_ids=["a"], codes=["x = 1"]), 500)
    figures.append(Figure("trivial re-run through listen_messages (threaded reader)", rerun_thread, _thread_floor(500), "thread queue hand-off + Event", "< 0.2 ms"))
    figures.extend(bench_graph_update())
    figures.append(bench_run_all())
    figures.append(bench_ui_updates("asyncio"))
    figures.append(bench_ui_updates("threaded"))
    for mode in ("replace", "thread-local", "fd"):
        figures.append(bench_console(mode))
    figures.extend(bench_shared_memory())
    figures.append(bench_completion())
    print_figures("core (in process)", figures)


if __name__ == "__main__":
    main()
