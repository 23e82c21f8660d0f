"""A generated, realistic 1,000-cell notebook (issue 18, "Big notebooks").

:func:`generate` returns the cells of a deterministic notebook (``random.Random(seed)``):
imports at the top, parameters, function and class definitions, integer arithmetic (no
dataframes), loops, dictionaries, ``print`` calls, cells that end in an expression (a result
output), and 10% markdown cells.  Each code cell reads names of earlier cells, half of them
from the last few cells and half from anywhere above (dependencies that span far back).

The generator also knows, independently of :mod:`lifecycle.graph`, which cells each cell reads
(:attr:`GenCell.reads`), so tests can check the kernel's re-run set against
:func:`dependents`; and :func:`expected_outputs` runs the code cells top to bottom as a plain
script (``exec``/``eval``, no kernel) to give each cell's expected printed text and result repr.
"""

from __future__ import annotations

import ast
import contextlib
import io
import random
from dataclasses import dataclass, field
from typing import Any, Literal

CELLS = 1000
MARKDOWN_SHARE = 0.10
EDIT_INDEX = 12
"""The cell edited "near the top" by the benchmark and the tests (a parameter cell)."""


@dataclass
class GenCell:
    """One generated cell: ``kind`` is ``"code"`` or ``"markdown"``; ``reads`` are the ids of
    the cells whose definitions this cell reads (as the generator wrote it)."""

    cell_id: str
    kind: Literal["code", "markdown"]
    code: str
    reads: set[str] = field(default_factory=set)


def _pick(rng: random.Random, pool: list[tuple[str, str]]) -> tuple[str, str]:
    """A (name, cell id) from ``pool``: half the time one of the last 8, else any (far back)."""
    if rng.random() < 0.5:
        return pool[-1 - rng.randrange(min(8, len(pool)))]
    return pool[rng.randrange(len(pool))]


def generate(cells: int = CELLS, seed: int = 18) -> list[GenCell]:
    """The notebook's cells, in order (``cells`` of them, 10% markdown).

    Cell ids are ``c0000``, ``c0001``...; every code cell is valid Python that runs in
    microseconds.
    """
    rng = random.Random(seed)
    out: list[GenCell] = []
    values: list[tuple[str, str]] = []  # (name, defining cell) of integer values
    funcs: list[tuple[str, str]] = []  # (name, defining cell) of int -> int functions
    classes: list[tuple[str, str]] = []
    imports = [
        ("import math", "math"),
        ("import itertools\nimport functools", "functools"),
        ("from collections import Counter, defaultdict", "Counter"),
        ("import json", "json"),
        ("import statistics", "statistics"),
    ]
    module_cell: dict[str, str] = {}
    i = 0

    def new_id() -> str:
        nonlocal i
        cid = f"c{i:04d}"
        i += 1
        return cid

    out.append(GenCell(new_id(), "markdown", "# A generated notebook\n\nImports, parameters, functions, arithmetic."))
    for code, module in imports:
        cid = new_id()
        out.append(GenCell(cid, "code", code))
        module_cell[module] = cid
    for k in range(8):
        cid = new_id()
        out.append(GenCell(cid, "code", f"p{k} = {rng.randrange(2, 97)}"))
        values.append((f"p{k}", cid))
    while i < cells:
        cid = new_id()
        n = i
        roll = rng.random()
        if rng.random() < MARKDOWN_SHARE or (n % 50 == 0):
            out.append(GenCell(cid, "markdown", f"## Section {n}\n\nSome *prose* about step {n}: `v{n}`."))
            continue
        reads: set[str] = set()

        def use(pool: list[tuple[str, str]], reads: set[str] = reads) -> str:
            name, source = _pick(rng, pool)
            reads.add(source)
            return name

        if roll < 0.15 or not funcs:
            a, b = rng.randrange(2, 50), rng.randrange(1, 1000)
            p = use(values)
            reads.add(module_cell["math"])
            code = f"def f{n}(x, k={p}):\n    \"\"\"Step {n}.\"\"\"\n    return (math.isqrt(abs(x)) * {a} + x * k + {b}) % 10007"
            funcs.append((f"f{n}", cid))
        elif roll < 0.55:
            f, x, y = use(funcs), use(values), use(values)
            code = f"v{n} = ({f}({x}) + {y} * {rng.randrange(2, 9)}) % 10007"
            if rng.random() < 0.3:
                code += f"\nv{n}"
            values.append((f"v{n}", cid))
        elif roll < 0.65:
            x, y, z = use(values), use(values), use(values)
            code = f"s{n} = sum([{x}, {y}, {z}]) % 10007\nmax({x}, {y}, s{n})"
            values.append((f"s{n}", cid))
        elif roll < 0.72:
            f, x = use(funcs), use(values)
            code = f"acc{n} = 0\nfor j in range({rng.randrange(5, 30)}):\n    acc{n} = (acc{n} + {f}(j + {x})) % 10007"
            values.append((f"acc{n}", cid))
        elif roll < 0.78:
            x, y = use(values), use(values)
            code = f'print(f"step {n}:", {x}, {y}, {x} * {y} % 97)'
        elif roll < 0.84 or not classes:
            x = use(values)
            code = (
                f"class Box{n}:\n    def __init__(self, n):\n        self.n = n\n\n"
                f"    def total(self):\n        return (self.n + {x}) % 10007\n\n"
                f"    def __repr__(self):\n        return f'Box{n}({{self.n}})'"
            )
            classes.append((f"Box{n}", cid))
        elif roll < 0.90:
            c, x = use(classes), use(values)
            code = f"b{n} = {c}({x})\nt{n} = b{n}.total()\nb{n}"
            values.append((f"t{n}", cid))
        elif roll < 0.95:
            x, y = use(values), use(values)
            reads.add(module_cell["Counter"])
            reads.add(module_cell["json"])
            code = (
                f"d{n} = Counter(str({x}) + str({y}))\n"
                f"k{n} = len(json.dumps(dict(sorted(d{n}.items()))))\nsorted(d{n}.items())[:3]"
            )
            values.append((f"k{n}", cid))
        else:
            x, y = use(values), use(values)
            reads.add(module_cell["statistics"])
            code = f"m{n} = int(statistics.median([{x}, {y}, {n}]))\nm{n}"
            values.append((f"m{n}", cid))
        out.append(GenCell(cid, "code", code, reads))
    return out


def to_percent(cells: list[GenCell]) -> str:
    """The notebook as a percent-format ``.py`` file (``# %%`` code cells, ``# %% [markdown]``
    cells with ``#``-commented bodies)."""
    parts = []
    for cell in cells:
        if cell.kind == "markdown":
            body = "\n".join(f"# {line}" if line else "#" for line in cell.code.splitlines())
            parts.append(f"# %% [markdown]\n{body}\n")
        else:
            parts.append(f"# %%\n{cell.code}\n")
    return "\n".join(parts)


def code_cells(cells: list[GenCell]) -> list[GenCell]:
    """The code cells, in order."""
    return [c for c in cells if c.kind == "code"]


def dependents(cells: list[GenCell], edited: str) -> set[str]:
    """Ids of the cells that read, directly or transitively, a definition of ``edited``
    (``edited`` excluded), from the generator's own record of what each cell reads."""
    out: set[str] = set()
    reached = {edited}
    for cell in cells:
        if cell.reads & reached:
            out.add(cell.cell_id)
            reached.add(cell.cell_id)
    return out


def expected_outputs(cells: list[GenCell], edits: dict[str, str] | None = None) -> dict[str, tuple[str, str | None]]:
    """Cell id -> (printed text, repr of the last expression's value or ``None``) of running the
    code cells top to bottom as a plain script, with ``edits`` (cell id -> code) applied."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    out: dict[str, tuple[str, str | None]] = {}
    for cell in code_cells(cells):
        code = (edits or {}).get(cell.cell_id, cell.code)
        tree = ast.parse(code)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(tree, cell.cell_id, "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), cell.cell_id, "eval"), namespace) if last else None
        out[cell.cell_id] = (buffer.getvalue(), None if value is None else repr(value))
    return out


def edited_code(cells: list[GenCell], index: int = EDIT_INDEX, bump: int = 1) -> tuple[str, str]:
    """``(cell id, new code)`` of the benchmark's edit: the parameter cell at ``index`` gets a
    different constant (``bump`` makes successive edits differ)."""
    cell = cells[index]
    name, _, value = cell.code.partition(" = ")
    if cell.kind != "code" or not name.startswith("p"):
        raise ValueError(f"cell {index} is not a parameter cell: {cell.code!r}")
    return cell.cell_id, f"{name} = {int(value) + bump}"
