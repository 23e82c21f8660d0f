"""Reactive agreement: after an edit, the kernel's latest outputs equal a fresh top-to-bottom
run of the edited notebook.

For every notebook, :func:`choose_edits` picks (deterministically, from the cells' static
analysis) up to two edits, applied one after the other to a live kernel:

1. **neutral**: the first cell whose definitions are read by a later cell gets a
   ``print(...)`` line in front; its own output changes, nothing downstream does (the kernel
   still re-runs its descendants, which must reproduce their outputs);
2. **value** (where the notebook has one): the first literal number or string in a statement
   that binds a name read by a later cell is changed (``k`` -> ``k + 1``, ``x`` -> ``2 * x``,
   ``"s"`` -> ``"s!"``), preferring plain assignments over ``def``/``class`` bodies.

After each edit only the edited cell is sent (``execute-cells``); the kernel re-runs what it
decides to, and every cell's latest outputs are compared with a fresh run of the notebook with
the edits so far.
"""

from __future__ import annotations

import ast
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.conformance.corpus import Comparison, Item, cell_items, compare
from tests.conformance.runners import Runner

NEUTRAL_LINE = 'print("(edited by the conformance harness)")\n'


@dataclass(frozen=True)
class Edit:
    kind: Literal["neutral", "value"]
    cell: int
    """Code-cell index."""
    source: str
    """The cell's new source."""
    description: str


def _graph(sources: list[str]) -> Any:
    from lifecycle.graph import DataflowGraph

    graph = DataflowGraph("script")
    for i, src in enumerate(sources):
        graph.upsert(f"c{i}", src)
    return graph


def _has_future_import(tree: ast.Module | None) -> bool:
    return bool(tree and tree.body and isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "__future__")


def _bound_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _docstrings(node: ast.AST) -> set[int]:
    """ids of docstring constants inside ``node``."""
    out: set[int] = set()
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if (
            isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
            and isinstance(body, list) and body and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)
        ):
            out.add(id(body[0].value))
    return out


def _literals(stmt: ast.stmt) -> list[ast.Constant]:
    """Editable literal constants of a statement, in source order (not docstrings, not parts
    of f-strings, not ``True``/``False``/``None``/bytes)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        roots: list[ast.AST] = list(stmt.body)
    elif isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        roots = [stmt.value]
    else:
        return []
    skip = _docstrings(stmt)
    for root in roots:
        for sub in ast.walk(root):
            if isinstance(sub, ast.JoinedStr):
                skip |= {id(n) for n in ast.walk(sub)}
    found = [
        n for r in roots for n in ast.walk(r)
        if isinstance(n, ast.Constant) and id(n) not in skip
        and type(n.value) in (int, float, str) and n.end_lineno == n.lineno
    ]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _replace(source: str, node: ast.Constant, text: str) -> str:
    """``source`` with ``node``'s text replaced (AST columns are UTF-8 byte offsets)."""
    lines = source.splitlines(True)
    line = lines[node.lineno - 1].encode()
    assert node.end_col_offset is not None
    lines[node.lineno - 1] = (line[: node.col_offset] + text.encode() + line[node.end_col_offset :]).decode()
    return "".join(lines)


def _changed(value: int | float | str) -> int | float | str:
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 if value else 1.0
    return value + "!"


def _neutral(source: str, tree: ast.Module | None) -> str:
    """``source`` with :data:`NEUTRAL_LINE` in front (after it, if the cell starts with a
    ``from __future__`` import)."""
    if _has_future_import(tree):
        return source + ("\n" if source and not source.endswith("\n") else "") + NEUTRAL_LINE
    return NEUTRAL_LINE + source


def choose_edits(sources: list[str]) -> list[Edit]:
    """The edits for a notebook (see the module docstring); deterministic."""
    graph = _graph(sources)
    feeding = [i for i in range(len(sources)) if graph.children(f"c{i}")]
    edits: list[Edit] = []
    if not sources:
        return edits
    neutral = feeding[0] if feeding else 0
    edits.append(Edit("neutral", neutral, _neutral(sources[neutral], graph.cells[f"c{neutral}"].analysis.tree),
                      f"code cell {neutral}: a print() line added"))
    for wanted in ((ast.Assign, ast.AugAssign, ast.AnnAssign), (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for i in feeding:
            tree = graph.cells[f"c{i}"].analysis.tree
            for stmt in tree.body if tree is not None else ():
                if not isinstance(stmt, wanted) or not _literals(stmt):
                    continue
                if not any(graph.readers(f"c{i}", name) for name in _bound_names(stmt)):
                    continue
                node = _literals(stmt)[0]
                value = _changed(node.value)
                source = _replace(sources[i], node, repr(value))
                if i == neutral:  # edits accumulate: keep the neutral edit's line
                    source = _neutral(source, tree)
                where = f"line {node.lineno}, binding {', '.join(sorted(_bound_names(stmt)))}"
                edits.append(Edit("value", i, source, f"code cell {i}: {node.value!r} -> {value!r} ({where})"))
                return edits
    return edits


def apply_edits(sources: list[str], edits: list[Edit]) -> list[str]:
    out = list(sources)
    for edit in edits:
        out[edit.cell] = edit.source
    return out


# ---------------------------------------------------------------------------- running


@dataclass
class EditStep:
    edit: Edit
    reran: list[int]
    """Code-cell indexes the kernel re-ran."""
    comparison: Comparison
    seconds: float


@dataclass
class ReactiveOutcome:
    notebook: str
    steps: list[EditStep] = field(default_factory=list)
    seconds: float = 0.0
    """The live session: kernel start, top-to-bottom run and every edit's re-run (the fresh
    runs it is compared with are not counted)."""

    @property
    def ok(self) -> bool:
        return all(s.comparison.ok for s in self.steps)


class ReactiveSession:
    """A live kernel (subprocess host, :class:`subprocess_host.client.KernelClient`) running
    a notebook's code cells ``c0``, ``c1``...; outputs collected as a frontend would."""

    def __init__(self, python: str | None, cwd: Path) -> None:
        from lifecycle.kernel_lifecycle import KernelArgs
        from lifecycle.outputs import OutputCollector
        from subprocess_host.client import KernelClient

        self.collector = OutputCollector()
        args = KernelArgs(console="fd", virtual_files="shared_memory", install_main=True)
        self.client = KernelClient(args, python=python, cwd=str(cwd))
        self._done: asyncio.Queue[Any] = asyncio.Queue()
        self.count = 0

    async def __aenter__(self) -> ReactiveSession:
        from lifecycle import protocol

        def on_note(note: Any, frame: bytes) -> None:
            self.collector.add(note)
            if isinstance(note, (protocol.CompletedRun, protocol.KernelDied)):
                self._done.put_nowait(note)

        self.client.on_notification(on_note)
        await self.client.start()
        await self.client.wait_ready(60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.shutdown()

    async def execute(self, cells: dict[int, str], timeout: float, order: list[int] | None = None) -> list[int]:
        """Send ``execute-cells`` and wait for the run to complete; returns the indexes of
        the cells that ran.

        Raises:
            RuntimeError: the kernel died.
            TimeoutError: the run did not complete in time.
        """
        from lifecycle import protocol

        ids = [f"c{i}" for i in cells]
        await self.client.send(protocol.ExecuteCells(
            cell_ids=ids, codes=list(cells.values()),
            order=[f"c{i}" for i in order] if order is not None else None,
        ))
        note = await asyncio.wait_for(self._done.get(), timeout)
        if isinstance(note, protocol.KernelDied):
            raise RuntimeError(f"the kernel died: {note.reason}")
        return [int(c[1:]) for c in note.cell_ids]

    def items(self, n: int) -> list[list[Item]]:
        """Every cell's latest outputs, as comparable items."""
        out = []
        for i in range(n):
            rec = self.collector.cells.get(f"c{i}")
            out.append(cell_items(rec.outputs) if rec is not None else [])
        return out


async def check_reactive(
    name: str,
    sources: list[str],
    python: str | None,
    fresh_runner: Runner,
    scratch: Any,
    slots: asyncio.Semaphore,
    timeout: float = 120,
) -> ReactiveOutcome:
    """Run ``sources`` in a live kernel, apply :func:`choose_edits` one by one, and compare
    after each with a fresh run (``fresh_runner``) of the edited notebook.  ``scratch()``
    gives a context manager yielding a fresh working directory; ``slots`` limits how many
    kernels compute at once."""
    edits = choose_edits(sources)
    variants = [apply_edits(sources, edits[: k + 1]) for k in range(len(edits))]

    async def fresh(variant: list[str]) -> list[list[Item]]:
        async with slots:
            with scratch() as cwd:
                return (await fresh_runner.run(variant, Path(cwd), timeout)).items

    fresh_tasks = [asyncio.ensure_future(fresh(v)) for v in variants]
    outcome = ReactiveOutcome(name)
    try:
        async with slots:
            start = time.perf_counter()
            with scratch() as cwd:
                async with ReactiveSession(python, Path(cwd)) as session:
                    n = len(sources)
                    await session.execute(dict(enumerate(sources)), timeout, order=list(range(n)))
                    reruns: list[tuple[list[int], list[list[Item]], float]] = []
                    for edit in edits:
                        t0 = time.perf_counter()
                        ran = await session.execute({edit.cell: edit.source}, timeout)
                        reruns.append((ran, session.items(n), time.perf_counter() - t0))
            outcome.seconds = time.perf_counter() - start
        for edit, variant, task, (ran, latest, secs) in zip(edits, variants, fresh_tasks, reruns):
            expected = await task
            cmp = compare(name, variant, expected, latest)
            outcome.steps.append(EditStep(edit, ran, cmp, secs))
    finally:
        for task in fresh_tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*fresh_tasks, return_exceptions=True)
    return outcome
