"""Headless execution of a whole notebook: every code cell, top to bottom, outputs collected.

:func:`run_in_subprocess` runs the notebook in a kernel subprocess (``amphi execute``);
:func:`run_in_process` drives the lifecycle core in this process.  Both return the notebook
with its outputs in nbformat 4 shape.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs, asyncio_queue_reader, serve, submit_command
from lifecycle.notebook import Notebook
from lifecycle.outputs import OutputCollector


@dataclass
class ExecutionResult:
    """Outputs of a headless run: the notebook with outputs filled in, and whether any cell
    failed (raised, or could not run)."""

    notebook: Notebook
    failed_cells: list[str] = field(default_factory=list)
    kernel_errors: list[str] = field(default_factory=list)


def fill_outputs(nb: Notebook, collector: OutputCollector) -> ExecutionResult:
    """Copy collected outputs into the notebook's code cells."""
    failed: list[str] = []
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        rec = collector.cells.get(cell.id)
        cell.outputs = list(rec.outputs) if rec else []
        cell.execution_count = rec.execution_count if rec else None
        if rec is not None and (rec.errored or rec.status == "errored-ancestor"):
            failed.append(cell.id)
    return ExecutionResult(nb, failed, [e.message for e in collector.kernel_errors])


def run_in_process(nb: Notebook, *, cwd: str | os.PathLike[str] | None = None, timeout: float = 600) -> ExecutionResult:
    """Run every code cell of ``nb`` in a kernel in this process (console captured by
    replacing ``sys.stdout``/``sys.stderr``).

    Args:
        nb: the notebook (cells run in notebook order, script semantics unless it says strict).
        cwd: working directory for the run (restored afterwards); default: unchanged.
        timeout: seconds allowed for the whole run.

    Raises:
        TimeoutError: the run took longer than ``timeout``.
    """
    collector = OutputCollector()
    code_cells = [c for c in nb.cells if c.kind == "code"]
    args = KernelArgs(semantics=nb.semantics, console="replace")
    previous = os.getcwd()

    async def main() -> None:
        control: asyncio.Queue[object] = asyncio.Queue()
        ui: asyncio.Queue[object] = asyncio.Queue()
        done = asyncio.Event()

        def emit(note: object) -> None:
            collector.add(note)
            if isinstance(note, protocol.CompletedRun):
                done.set()

        ids = [c.id for c in code_cells]
        submit_command(control, ui, protocol.ExecuteCells(cell_ids=ids, codes=[c.source for c in code_cells], order=ids))
        task = asyncio.get_running_loop().create_task(serve(args, emit, control, ui, asyncio_queue_reader))
        try:
            if code_cells:
                await asyncio.wait_for(done.wait(), timeout)
        finally:
            submit_command(control, ui, protocol.Stop())
            await task

    try:
        if cwd is not None:
            os.chdir(Path(cwd))
        asyncio.run(main())
    finally:
        os.chdir(previous)
    return fill_outputs(nb, collector)


async def run_in_subprocess_async(
    nb: Notebook,
    *,
    cwd: str | os.PathLike[str] | None = None,
    python: str | None = None,
    timeout: float = 600,
    on_notification: Callable[[object], None] | None = None,
) -> ExecutionResult:
    """Run every code cell of ``nb`` in a kernel subprocess (fd-level console capture,
    shared-memory virtual files, the kernel's module as ``__main__``).

    Args:
        nb: the notebook.
        cwd: the kernel's working directory (default: this process's).
        python: the kernel's interpreter (default: this one).
        timeout: seconds allowed for the whole run.
        on_notification: also called with every notification as it arrives, while the kernel
            is alive (e.g. to read a ``virtual-file``'s shared memory before the kernel ends).

    Raises:
        TimeoutError: the run took longer than ``timeout``.
        subprocess_host.client.KernelStartError: the kernel did not start.
    """
    from subprocess_host.client import KernelClient

    collector = OutputCollector()
    code_cells = [c for c in nb.cells if c.kind == "code"]
    args = KernelArgs(semantics=nb.semantics, console="fd", virtual_files="shared_memory", install_main=True)
    client = KernelClient(args, python=python, cwd=str(cwd) if cwd is not None else None)
    done = asyncio.Event()

    def on_note(note: object, frame: bytes) -> None:
        collector.add(note)
        if on_notification is not None:
            on_notification(note)
        if isinstance(note, (protocol.CompletedRun, protocol.KernelDied)):
            done.set()

    client.on_notification(on_note)
    await client.start()
    try:
        await client.wait_ready(min(timeout, 60))
        if code_cells:
            ids = [c.id for c in code_cells]
            await client.send(protocol.ExecuteCells(cell_ids=ids, codes=[c.source for c in code_cells], order=ids))
            await asyncio.wait_for(done.wait(), timeout)
    finally:
        await client.shutdown()
    result = fill_outputs(nb, collector)
    if client.dead:
        result.kernel_errors.append("the kernel died during the run")
    return result


def run_in_subprocess(nb: Notebook, **kwargs: object) -> ExecutionResult:
    """Synchronous :func:`run_in_subprocess_async`."""
    return asyncio.run(run_in_subprocess_async(nb, **kwargs))  # type: ignore[arg-type]
