"""Fast paths of the run path (issue 18, big notebooks, second round) give exactly what the
general paths give: the IPython-syntax pre-check, dropping a compiled cell's syntax tree, and
the import-hook classes that no longer import :mod:`importlib.abc`."""

from __future__ import annotations

import asyncio
import io
import sys
from contextlib import redirect_stdout
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.big_notebook import code_cells, edited_code, generate
from lifecycle import import_hooks, protocol
from lifecycle.analysis import analyze_cell
from lifecycle.ipython_syntax.core import Transformed, _transform, transform
from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel

from .test_ipython_syntax import _FRAGMENTS, _MAGIC_LINES, EVERY_MAGIC, NOTEBOOK_CELLS


def _general(code: str) -> Transformed:
    """:func:`transform` without its pre-checks (what it did for any cell holding ``%``)."""
    try:
        return _transform(code)
    except (RecursionError, MemoryError, ValueError):
        return Transformed(code)


def test_syntax_pre_check_agrees_on_known_cells() -> None:
    cells = [c.code for c in code_cells(generate())]
    cells += [*NOTEBOOK_CELLS, *_MAGIC_LINES, *_FRAGMENTS, *EVERY_MAGIC]
    cells += ["x =\t%time f()", "a, b = !ls", "\x0c%time f()", "\u00a0!ls", "x = 1\r%time f()", "y = a ?", "a = b\n  \t!ls"]
    for code in cells:
        assert transform(code) == _general(code), code


_PIECES = ["%", "!", "?", "=", " ", "\t", "\n", "\r", "\r\n", "\x0c", "\x1c", "\u00a0", "\u2028",
           "x", "a.b", ",", "(", ")", "'", "#", "\\", "%%", "time", "ls", "1", "!="]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_syntax_pre_check_agrees_on_any_text(code: str) -> None:
    assert transform(code) == _general(code)


def _outputs(kernel_frames: list[Any]) -> dict[str, list[Any]]:
    """Cell id -> its results and errors, and its console text (joined: batching may split
    it differently from run to run)."""
    out: dict[str, list[Any]] = {}
    for note in kernel_frames:
        if isinstance(note, protocol.CellOutput):
            out.setdefault(note.cell_id, []).append(note.data)
        elif isinstance(note, protocol.CellConsole):
            cell = out.setdefault(note.cell_id, [])
            if cell and isinstance(cell[-1], str):
                cell[-1] += note.text
            else:
                cell.append(note.text)
        elif isinstance(note, protocol.CellError):
            out.setdefault(note.cell_id, []).append(note.ename)
    return out


def _kernel() -> tuple[Any, Any, list[Any]]:
    notes: list[Any] = []
    kernel, runtime = create_kernel(KernelArgs(console="replace"), notes.append)
    return kernel, runtime, notes


def test_dropped_trees_give_the_same_runs_and_edits_as_fresh_kernels() -> None:
    cells = generate(120)
    code = code_cells(cells)
    run_all = protocol.ExecuteCells(cell_ids=[c.cell_id for c in code], codes=[c.code for c in code])
    kernel, runtime, notes = _kernel()
    try:
        with redirect_stdout(io.StringIO()):
            asyncio.run(kernel.handle_message(run_all))
            first = _outputs(notes)
            assert all(kernel.graph.cells[c.cell_id].analysis.tree is None for c in code)
            # An edit, then the same code again: the edited cell is analysed (and compiled) anew.
            cid, new = edited_code(cells, bump=3)
            notes.clear()
            asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=[cid], codes=[new])))
            edited = _outputs(notes)
            # A compiled cell lost (its tree dropped): compiled again from a fresh parse.
            kernel._compiled.pop(code[-1].cell_id)
            notes.clear()
            asyncio.run(kernel.handle_message(run_all))
            again = _outputs(notes)
    finally:
        teardown_kernel(kernel, runtime)

    fresh, fresh_runtime, fresh_notes = _kernel()
    try:
        with redirect_stdout(io.StringIO()):
            asyncio.run(fresh.handle_message(run_all))
            assert _outputs(fresh_notes) == first
            fresh_notes.clear()
            edit = dict(zip(run_all.cell_ids, run_all.codes, strict=True))
            edit[cid] = new
            other, other_runtime, other_notes = _kernel()
            try:
                asyncio.run(other.handle_message(protocol.ExecuteCells(cell_ids=list(edit), codes=list(edit.values()))))
                expected_edit = _outputs(other_notes)
            finally:
                teardown_kernel(other, other_runtime)
    finally:
        teardown_kernel(fresh, fresh_runtime)
    assert len(edited) > 10 and all(expected_edit[k] == v for k, v in edited.items())
    assert again == first


def test_without_tree_keeps_the_analysis_equal() -> None:
    for code in ("x = 1\ny = x", "%time z = 1", "from os import *", "def f(:"):
        analysis = analyze_cell(code)
        dropped = analysis.without_tree()
        assert dropped == analysis and dropped.tree is None and not dropped.from_source
        assert dropped.error is analysis.error and dropped.star_import == analysis.star_import
        assert dropped.without_tree() is dropped


def test_import_hook_classes_keep_their_protocols() -> None:
    import importlib.abc

    fired: list[str] = []
    name = "lifecycle_fast_path_probe_module"
    sys.modules.pop(name, None)
    cancel = import_hooks.when_imported(name, lambda m: fired.append(m.__name__))
    finder = import_hooks._finder
    assert finder is not None and finder in sys.meta_path
    importlib.invalidate_caches()  # calls every meta path finder's invalidate_caches
    loader = import_hooks._HookedLoader(object(), name)
    assert isinstance(loader, importlib.abc.Loader)
    cancel()
    assert import_hooks._finder is None and not fired


def test_variable_reprs_of_numbers_are_reprlibs() -> None:
    import reprlib

    from lifecycle.graph import DataflowGraph
    from lifecycle.kernel.variables import describe_variables

    class Int(int):
        def __repr__(self) -> str:
            return "Int!"

    values = [0, -1, 10**29, -(10**30) + 1, 10**30, -(10**30), 10**45, 2**64, 1.5, -0.0, float("nan"),
              float("inf"), 1e300, True, False, Int(3), "s" * 80, None, [1, 2]]
    short = reprlib.Repr()
    short.maxstring = 60
    short.maxother = 60
    graph = DataflowGraph()
    namespace = {f"v{i}": v for i, v in enumerate(values)}
    graph.upsert("c", "\n".join(f"v{i} = 0" for i in range(len(values))))
    infos = {info.name: info for info in describe_variables(graph, namespace, ["c"])["c"]}
    for i, value in enumerate(values):
        info = infos[f"v{i}"]
        assert (info.repr, info.type) == (short.repr(value), type(value).__name__), value
