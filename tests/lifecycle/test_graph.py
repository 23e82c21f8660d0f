"""The dataflow graph under script and strict semantics, and its incremental updates."""

from __future__ import annotations

from lifecycle.graph import DataflowGraph


def script(*codes: str) -> DataflowGraph:
    g = DataflowGraph("script")
    for i, code in enumerate(codes):
        g.upsert(f"c{i}", code)
    return g


def test_script_binds_to_nearest_definition_above() -> None:
    g = script("x = 1", "y = x", "x = 5", "z = x + y", "x += 1", "w = x")
    assert g.parents("c1") == {"c0"}
    assert g.parents("c3") == {"c1", "c2"}
    assert g.parents("c4") == {"c2"}
    assert g.parents("c5") == {"c4"}
    assert g.children("c0") == {"c1"}
    assert g.children("c2") == {"c3", "c4"}
    order, errors = g.run_order(["c0"])
    assert order == ["c0", "c1", "c3"] and errors == {}


def test_script_reference_below_definition_is_not_an_edge() -> None:
    g = script("y = x", "x = 1")
    assert g.parents("c0") == set() and g.children("c1") == set()


def test_readers_of_one_binding() -> None:
    g = script("s = 1", "a = s", "s = 2", "b = s")
    assert g.readers("c0", "s") == {"c1"}
    assert g.readers("c2", "s") == {"c3"}


def test_strict_multiple_definition_and_cycle() -> None:
    g = DataflowGraph("strict")
    for cid, code in {"a": "p = q", "b": "q = p", "c": "r = p", "d": "x = 1", "e": "x = 2", "f": "y = 1"}.items():
        g.upsert(cid, code)
    errors = g.errors(["d", "e", "f"])
    assert set(errors) == {"d", "e"} and errors["d"].kind == "multiple-definition"
    order, cycle_errors = g.run_order(["a", "f"])
    assert set(cycle_errors) == {"a", "b"}
    assert all(e.kind == "cycle" for e in cycle_errors.values())
    assert order == ["f", "c"]  # c is downstream of the cycle: last, the kernel skips it


def test_strict_any_order_topological() -> None:
    g = DataflowGraph("strict")
    g.upsert("use", "t = a + b")
    g.upsert("da", "a = 1")
    g.upsert("db", "b = a + 1")
    order, errors = g.run_order(["da"])
    assert order == ["da", "db", "use"] and errors == {}


def test_syntax_error_reported() -> None:
    g = script("def (")
    assert g.errors(["c0"])["c0"].kind == "syntax"


def test_incremental_edit_reanalyses_only_that_cell() -> None:
    g = script(*(f"v{i} = v{i - 1} + 1" if i else "v0 = 0" for i in range(1000)))
    before = {cid: node.analysis for cid, node in g.cells.items()}
    assert g.upsert("c500", "v500 = 7")
    changed = [cid for cid, node in g.cells.items() if node.analysis is not before[cid]]
    assert changed == ["c500"]
    assert g.parents("c500") == set()
    assert g.children("c500") == {"c501"}
    assert not g.upsert("c500", "v500 = 7")  # same code: nothing to do


def test_order_and_remove_keep_indexes_consistent() -> None:
    g = script("x = 1", "y = x", "x = 2")
    g.set_order(["c2", "c0", "c1"])
    assert g.parents("c1") == {"c0"}
    g.set_order(["c0", "c2", "c1"])
    assert g.parents("c1") == {"c2"}
    g.remove("c2")
    assert g.parents("c1") == {"c0"} and g.order == ["c0", "c1"]
    assert g.position("c1") == 1


def test_dynamic_defs_from_star_import() -> None:
    g = script("from typing import *", "x: List = []")
    assert g.parents("c1") == set()
    g.add_dynamic_defs("c0", ["List", "Dict"])
    assert g.parents("c1") == {"c0"}
