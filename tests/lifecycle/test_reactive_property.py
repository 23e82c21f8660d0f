"""Property: reactive execution ends on the namespace a fresh top-to-bottom run gives.

Random notebooks of 2-30 cells (script semantics, names redefined across cells, errors
included) go through random sequences of edits, re-runs, insertions and deletions on a real
kernel.  The oracle runs the current cells top to bottom with plain ``exec`` in a fresh
namespace, skipping a cell that reads a name whose latest binding came from a skipped cell, or
from a failed cell that raised before binding it (ARCHITECTURE.md: nothing runs on stale
values; names a failed cell bound before it raised are fresh, as in Jupyter).  The oracle's
reads/writes come from the generator, not from the kernel's analysis.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel

NAMES = ["a", "b", "c", "d", "e"]


@dataclass(frozen=True)
class GenCell:
    code: str
    reads: frozenset[str]  # read before the cell itself binds them
    writes: frozenset[str]


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, list[str], str]:
    target = draw(st.sampled_from(NAMES))
    k = draw(st.integers(0, 9))
    kind = draw(st.sampled_from(["const", "copy", "mix", "aug", "div"]))
    if kind == "const":
        return f"{target} = {k}", [], target
    if kind == "copy":
        n = draw(st.sampled_from(NAMES))
        return f"{target} = {n} + {k}", [n], target
    if kind == "mix":
        n1, n2 = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
        return f"{target} = ({n1} * {n2} + {k}) % 997", [n1, n2], target
    if kind == "aug":
        return f"{target} += {k}", [target], target
    n = draw(st.sampled_from(NAMES))
    return f"{target} = 100 // ({n} % 3)", [n], target  # ZeroDivisionError when n % 3 == 0


@st.composite
def cells(draw: st.DrawFn) -> GenCell:
    stmts = draw(st.lists(statements(), min_size=1, max_size=3))
    bound: set[str] = set()
    reads: set[str] = set()
    for _, names, target in stmts:
        reads |= {n for n in names if n not in bound}
        bound.add(target)
    return GenCell("\n".join(s for s, _, _ in stmts), frozenset(reads), frozenset(bound))


operations = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(0, 10_000), cells()),
        st.tuples(st.just("rerun"), st.integers(0, 10_000)),
        st.tuples(st.just("delete"), st.integers(0, 10_000)),
        st.tuples(st.just("insert"), st.integers(0, 10_000), cells()),
    ),
    max_size=12,
)


def oracle(notebook: list[GenCell]) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    poisoned: set[str] = set()
    for cell in notebook:
        if cell.reads & poisoned:
            poisoned |= cell.writes
            continue
        before = dict(ns)
        try:
            exec(cell.code, ns)
        except Exception:
            # Bound before the exception (to a new object, as the kernel tells): fresh values.
            fresh = {n for n in cell.writes if n in ns and (n not in before or ns[n] is not before[n])}
            poisoned |= cell.writes - fresh
            poisoned -= fresh
        else:
            poisoned -= cell.writes
    return {n: ns[n] for n in NAMES if n in ns}


async def reactive(initial: list[GenCell], ops: list[tuple[Any, ...]]) -> tuple[dict[str, Any], list[GenCell]]:
    out: list[Any] = []
    kernel, runtime = create_kernel(KernelArgs(), out.append)
    try:
        ids = [f"c{i}" for i in range(len(initial))]
        cells_by_id = dict(zip(ids, initial))
        await kernel.handle_message(
            protocol.ExecuteCells(cell_ids=ids, codes=[c.code for c in initial], order=ids)
        )
        fresh = len(ids)
        for op in ops:
            kind = op[0]
            if not ids and kind != "insert":
                continue
            if kind == "edit":
                cid = ids[op[1] % len(ids)]
                cells_by_id[cid] = op[2]
                await kernel.handle_message(protocol.ExecuteCells(cell_ids=[cid], codes=[op[2].code]))
            elif kind == "rerun":
                cid = ids[op[1] % len(ids)]
                await kernel.handle_message(protocol.ExecuteCells(cell_ids=[cid], codes=[cells_by_id[cid].code]))
            elif kind == "delete":
                cid = ids.pop(op[1] % len(ids))
                del cells_by_id[cid]
                await kernel.handle_message(protocol.DeleteCells(cell_ids=[cid]))
            else:
                cid = f"c{fresh}"
                fresh += 1
                ids.insert(op[1] % (len(ids) + 1), cid)
                cells_by_id[cid] = op[2]
                await kernel.handle_message(
                    protocol.ExecuteCells(cell_ids=[cid], codes=[op[2].code], order=list(ids))
                )
        assert not [n for n in out if isinstance(n, protocol.KernelError)]
        namespace = {n: kernel.globals[n] for n in NAMES if n in kernel.globals}
        return namespace, [cells_by_id[c] for c in ids]
    finally:
        teardown_kernel(kernel, runtime)


@pytest.mark.timeout(300)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(cells(), min_size=2, max_size=30), ops=operations)
def test_reactive_namespace_equals_fresh_top_to_bottom(initial: list[GenCell], ops: list[tuple[Any, ...]]) -> None:
    namespace, final_cells = asyncio.run(reactive(initial, ops))
    assert namespace == oracle(final_cells)


def test_oracle_skips_descendants_of_failures() -> None:
    # The oracle itself: a failure poisons what it writes until a good cell rebinds it.
    c1 = GenCell("a = 100 // (0 % 3)", frozenset(), frozenset({"a"}))
    c2 = GenCell("b = a + 1", frozenset({"a"}), frozenset({"b"}))
    c3 = GenCell("a = 5", frozenset(), frozenset({"a"}))
    c4 = GenCell("c = a + 1", frozenset({"a"}), frozenset({"c"}))
    assert oracle([c1, c2, c3, c4]) == {"a": 5, "c": 6}
