"""The generated 1,000-cell notebook (benchmarks/big_notebook.py) runs with every cell's output
right, an edit near the top re-runs exactly its dependents, and the graph's cached children
stay equal to freshly computed ones through edits, moves and deletions."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from benchmarks.big_notebook import code_cells, dependents, edited_code, expected_outputs, generate
from lifecycle import protocol
from lifecycle.graph import DataflowGraph
from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel


def _outputs(notes: list[Any]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for note in notes:
        if isinstance(note, protocol.CellConsole):
            text, value = out.get(note.cell_id, ("", None))
            out[note.cell_id] = (text + note.text, value)
        elif isinstance(note, protocol.CellOutput):
            text, _ = out.get(note.cell_id, ("", None))
            out[note.cell_id] = (text, note.data["text/plain"])
    return out


@pytest.mark.timeout(300)
def test_thousand_cells_run_right_and_an_edit_reruns_exactly_its_dependents() -> None:
    cells = generate()
    code = code_cells(cells)
    notes: list[Any] = []
    kernel, runtime = create_kernel(KernelArgs(console="thread-local"), notes.append)
    try:
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=[c.cell_id for c in code], codes=[c.code for c in code])))
        expected = expected_outputs(cells)
        got = _outputs(notes)
        assert not [n for n in notes if isinstance(n, protocol.CellError)]
        for cell in code:
            assert got.get(cell.cell_id, ("", None)) == expected[cell.cell_id], cell.cell_id
        cid, new = edited_code(cells)
        notes.clear()
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=[cid], codes=[new])))
        ran = next(n for n in notes if isinstance(n, protocol.CompletedRun)).cell_ids
        assert set(ran) == {cid} | dependents(cells, cid)
        assert len(ran) == len(set(ran))
        after = expected_outputs(cells, {cid: new})
        got = _outputs(notes)
        for cell_id in ran:
            assert got.get(cell_id, ("", None)) == after[cell_id], cell_id
    finally:
        teardown_kernel(kernel, runtime)


@pytest.mark.parametrize("semantics", ["script", "strict"])
def test_cached_children_match_fresh_ones_through_changes(semantics: str) -> None:
    rng = random.Random(7)
    names = [f"n{i}" for i in range(8)]
    g = DataflowGraph(semantics)  # type: ignore[arg-type]
    ids: list[str] = []

    def code() -> str:
        defs = rng.sample(names, rng.randrange(0, 3))
        refs = rng.sample(names, rng.randrange(0, 3))
        lines = [f"{d} = {' + '.join(refs) or '0'}" for d in defs] or [f"print({', '.join(refs)})"]
        return "\n".join(lines)

    for step in range(300):
        action = rng.random()
        if action < 0.4 or len(ids) < 3:
            cid = f"c{step}"
            g.upsert(cid, code())
            ids.append(cid)
        elif action < 0.75:
            g.upsert(rng.choice(ids), code())
        elif action < 0.85:
            victim = ids.pop(rng.randrange(len(ids)))
            g.remove(victim)
        else:
            rng.shuffle(ids)
            g.set_order(ids)
            ids = list(g.order)
        for cid in g.order:
            g.children(cid)  # fill the cache
        probe = rng.choice(g.order)
        g.upsert(probe, code())
        for cid in g.order:
            assert g.children(cid) == g._compute_children(cid), (step, cid)
