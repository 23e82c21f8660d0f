"""matplotlib benchmarks (in process): a cell that draws one line plot, until its image is
received, beside the cost of rendering that figure to PNG alone (the floor).

The kernel runs its control loop with the threaded reader (as the subprocess and thread hosts
do) and every notification is msgpack-encoded, as a real channel does.  matplotlib is imported
and warmed up by a first cell, outside the samples.
"""

from __future__ import annotations

import asyncio
import io
import queue
import threading
import time
from typing import Any

from benchmarks.report import Figure, print_figures, repeat
from lifecycle import protocol
from lifecycle.kernel_lifecycle import (
    KernelArgs,
    create_kernel,
    listen_messages,
    submit_command,
    teardown_kernel,
    threaded_queue_reader,
)

RUNS = 40
DATA = "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"
SHOW_CELL = f"plt.plot({DATA})\nplt.show()"
OPEN_CELL = f"lines = plt.plot({DATA})"


def _cell_to_image(code: str, runs: int) -> tuple[list[float], int]:
    """Seconds from submitting ``code`` to receiving its ``image/png`` output, per run; and
    the PNG's size in bytes."""
    image = threading.Event()
    completed = threading.Event()
    sizes: list[int] = []

    def emit(note: Any) -> None:
        protocol.encode(note)
        if isinstance(note, protocol.CellOutput) and "image/png" in note.data:
            sizes.append(len(note.data["image/png"]))
            image.set()
        elif isinstance(note, protocol.CompletedRun):
            completed.set()

    kernel, runtime = create_kernel(KernelArgs(), emit)
    control: queue.Queue[Any] = queue.Queue()
    ui: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(
        target=lambda: asyncio.run(listen_messages(kernel, control, ui, threaded_queue_reader)), daemon=True
    )
    thread.start()

    def run(cell_id: str, source: str) -> float:
        image.clear()
        completed.clear()
        t0 = time.perf_counter()
        submit_command(control, ui, protocol.ExecuteCells(cell_ids=[cell_id], codes=[source]))
        if not image.wait(60):
            raise AssertionError(f"no image/png output for {source!r}")
        elapsed = time.perf_counter() - t0
        if not completed.wait(60):
            raise AssertionError("the run did not complete")
        return elapsed

    try:
        completed.clear()
        submit_command(control, ui, protocol.ExecuteCells(cell_ids=["imports"], codes=["import matplotlib.pyplot as plt"]))
        if not completed.wait(60):
            raise AssertionError("importing matplotlib did not complete")
        for _ in range(3):  # warm-up: fonts, caches
            run("plot", code)
        return [run("plot", code) for _ in range(runs)], sizes[-1]
    finally:
        submit_command(control, ui, protocol.Stop())
        thread.join(30)
        teardown_kernel(kernel, runtime)


def _savefig_floor(runs: int) -> list[float]:
    """``fig.savefig(BytesIO(), format="png")`` alone, for the same one-line figure."""
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure()
    figure.add_subplot().plot([0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
    for _ in range(3):
        figure.savefig(io.BytesIO(), format="png")
    return repeat(lambda: figure.savefig(io.BytesIO(), format="png"), runs)


def _without_kernel(runs: int) -> list[float]:
    """The same work with no kernel: a new figure, one line, ``savefig`` as the inline backend
    renders (``bbox_inches="tight"``), close."""
    import matplotlib.pyplot as plt

    def once() -> None:
        figure = plt.figure()
        plt.plot([0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
        figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")
        plt.close(figure)

    for _ in range(3):
        once()
    return repeat(once, runs)


def bench_plot_to_image() -> list[Figure]:
    show, show_bytes = _cell_to_image(SHOW_CELL, RUNS)
    flushed, flushed_bytes = _cell_to_image(OPEN_CELL, RUNS)
    floor = _savefig_floor(RUNS)
    reference = _without_kernel(RUNS)
    floor_name = 'fig.savefig(BytesIO(), format="png")'
    return [
        Figure("one line plot, plt.show() -> image received", show, floor, floor_name,
               extra=f"png {show_bytes:,} B (bbox_inches='tight')"),
        Figure("one line plot left open -> image after the cell", flushed, floor, floor_name,
               extra=f"png {flushed_bytes:,} B"),
        Figure("reference, no kernel: new figure + plot + tight savefig", reference, floor, floor_name),
    ]


def main() -> None:
    print_figures("matplotlib (in process, threaded reader)", bench_plot_to_image())


if __name__ == "__main__":
    main()
