"""``Hooks.before_cell``: async hooks that run as part of a cell, before its code (the Pyodide
host installs a cell's imports there)."""

from __future__ import annotations

import asyncio
import sys

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel


async def test_before_cell_hooks_run_inside_the_cell_and_can_fail_it() -> None:
    notes: list[object] = []
    kernel, runtime = create_kernel(KernelArgs(console="replace"), notes.append)
    calls: list[str] = []

    async def hook(k: object, cell_id: str) -> None:
        calls.append(cell_id)
        sys.stderr.write(f"preparing {cell_id}\n")
        await asyncio.sleep(0)
        if cell_id == "bad":
            raise ModuleNotFoundError("No module named 'nowhere': the package could not be installed")

    kernel.hooks.before_cell.append(hook)
    try:
        await kernel.handle_message(protocol.ExecuteCells(cell_ids=["ok", "bad"], codes=["x = 1\nx", "y = 2\ny"]))
    finally:
        teardown_kernel(kernel, runtime)
    assert calls == ["ok", "bad"]
    outputs = {n.cell_id: n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)}
    assert outputs == {"ok": "1"}  # the failing cell's code did not run
    errors = [n for n in notes if isinstance(n, protocol.CellError)]
    assert [(e.cell_id, e.ename) for e in errors] == [("bad", "ModuleNotFoundError")]
    console = "".join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == "ok")
    assert "preparing ok" in console  # the hook's output belongs to the cell
    statuses = [(n.cell_id, n.status) for n in notes if isinstance(n, protocol.CellStatus)]
    assert statuses.index(("ok", "running")) < statuses.index(("ok", "idle"))
