"""Definitions and references of one cell follow Python's scoping rules."""

from __future__ import annotations

import pytest

from lifecycle.analysis import analyze_cell

CASES = [
    ("x = x + 1", {"x"}, {"x"}),
    ("x = 1; y = x", {"x", "y"}, set()),
    ("y = x; x = 1", {"x", "y"}, {"x"}),
    ("def f():\n    return g()\ndef g():\n    return z", {"f", "g"}, {"z"}),
    ("import os.path, json as j\nfrom a.b import c as d", {"os", "j", "d"}, set()),
    ("[i * k for i in items]", set(), {"k", "items"}),
    ("{k: v for k, v in pairs if v > lim}", set(), {"pairs", "lim"}),
    ("class A:\n    y = 1\n    z = y + w\n    def m(self):\n        return y", {"A"}, {"w", "y"}),
    ("def f():\n    global q\n    q = 1", {"f", "q"}, set()),
    ("x += 1", {"x"}, {"x"}),
    ("for i in range(n):\n    total = i", {"i", "total"}, {"n", "range"}),
    ("if (n := 10) > 5:\n    pass", {"n"}, set()),
    ("[y := i for i in r]", {"y"}, {"r"}),
    ("f = lambda a: a + b", {"f"}, {"b"}),
    ("with open(p) as fh:\n    data = fh.read()", {"data", "fh"}, {"open", "p"}),
    ("def f(x=dflt):\n    def g():\n        return x + outer\n    return g", {"f"}, {"dflt", "outer"}),
    ("def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v += 1\n    return inner", {"outer"}, set()),
    ("x: int = 5", {"x"}, {"int"}),
    ("x: int", set(), {"int"}),
    ("try:\n    pass\nexcept ValueError as e:\n    print(e)", set(), {"ValueError", "print"}),
    ("match cmd:\n    case [a, *rest]:\n        pass\n    case {'k': v, **kw}:\n        pass", {"a", "rest", "v", "kw"}, {"cmd"}),
    ("await asyncio.sleep(0)", set(), {"asyncio"}),
    ("@decorate\ndef f(a: T) -> R:\n    return a", {"f"}, {"decorate", "T", "R"}),
]


@pytest.mark.parametrize("code, defs, refs", CASES)
def test_defs_and_refs(code: str, defs: set[str], refs: set[str]) -> None:
    analysis = analyze_cell(code)
    assert analysis.error is None
    assert set(analysis.defs) == defs
    assert set(analysis.refs) == refs


def test_del_counts_as_a_write_and_a_read() -> None:
    analysis = analyze_cell("del x")
    assert analysis.defs == {"x"} and analysis.refs == {"x"} and analysis.deletes == {"x"}


def test_star_import_flagged() -> None:
    assert analyze_cell("from typing import *").star_import


@pytest.mark.parametrize("code", ["def (", "x = = 1", "\x00", "return 5" * 0 + "(" * 300])
def test_bad_code_never_raises(code: str) -> None:
    analysis = analyze_cell(code)
    assert isinstance(analysis.error, SyntaxError)
    assert analysis.defs == frozenset() and analysis.refs == frozenset()
