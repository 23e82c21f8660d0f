"""The fast paths added for big notebooks (issue 18) give exactly what the general paths give:
compiling a cell from its text (``compile_cell(..., parsed_from_code=True)``), the
``text/plain`` of plain ``int``/``float``/``bool`` results, cell ids, and the analysis visitor."""

from __future__ import annotations

import ast
import re
import traceback

import pytest

from lifecycle.analysis import analyze_cell, parse_cell
from lifecycle.display.formatting import format_value
from lifecycle.execution import compile_cell, run_compiled_sync
from lifecycle.notebook import new_cell_id
from lifecycle.notebook.magics import uncomment_magics
from lifecycle.pretty import pformat

CELLS = [
    "x = 1\ny = x + 1\ny",
    "x = 1; y = 2\n(x +\n   y)  # trailing comment\n\n",
    "def f(n):\n    return n * 2\n\nf(3)",
    "print('a');",
    "1 + 1; 2 + 2",
    '"""a docstring only"""',
    "import math\nmath.sqrt(4)",
    "for i in range(3):\n    pass\ni",
    "x = [1,\n     2]\n",
    "",
    "# only a comment",
    "a = 1\r\nb = 2\r\nb",
    "(1 if True else 2)",
    "raise ValueError('boom')",
    "y = 5\n1 / (y - 5)",
]


def _run(code: str, fast: bool) -> tuple[object, str | None, list[tuple[int | None, int | None]]]:
    tree = parse_cell(code)
    compiled = compile_cell("t", code, tree, parsed_from_code=fast)
    positions = []
    for obj in (compiled.body, compiled.last_expr):
        if obj is not None:
            positions.extend((start, end) for start, end, *_ in obj.co_positions() if start is not None)
    try:
        value = run_compiled_sync(compiled, {"__name__": "__main__"})
        error = None
    except Exception as exc:
        value = None
        frames = traceback.extract_tb(exc.__traceback__)
        cell = [(f.lineno, f.colno, f.end_colno) for f in frames if f.filename == "<cell t>"]
        error = f"{type(exc).__name__}: {exc} at {cell}"
    return value, error, sorted(set(positions))


@pytest.mark.parametrize("code", CELLS)
def test_compiling_the_text_equals_compiling_the_tree(code: str) -> None:
    assert _run(code, fast=True) == _run(code, fast=False)


def test_analysis_marks_only_unrewritten_cells_as_compilable_from_text() -> None:
    assert analyze_cell("x = 1\nx").from_source
    assert not analyze_cell("%time x = 1\nx").from_source  # IPython syntax: rewritten
    assert not analyze_cell("x = (").from_source  # syntax error: nothing to compile


def test_analysis_visitor_still_finds_names_everywhere() -> None:
    a = analyze_cell(
        "import os\nclass C(Base):\n    k = 1\n    def m(self):\n        return g(self.k)\n"
        "v = [y for y in data if y > lim]\nw = 1 if flag else {k: 2 for k in ks}\nf'{z!r}'\n"
    )
    assert a.defs == {"os", "C", "v", "w"}
    assert a.refs == {"Base", "g", "data", "lim", "flag", "ks", "z"}


@pytest.mark.parametrize("value", [0, -7, 2**63 - 1, -(2**63), 1.5, float("nan"), -0.0, 1e300, True, False])
def test_plain_number_results_format_as_pformat_does(value: object) -> None:
    assert format_value(value) == ({"text/plain": pformat(value)}, {})


def test_plain_number_results_respect_the_output_limit_and_big_ints_take_the_general_path() -> None:
    data, metadata = format_value(123456, max_bytes=3)
    assert "output_too_large" in metadata and "text/html" in data
    big = 10**40
    assert format_value(big)[0]["text/plain"] == pformat(big)


def test_cell_ids_are_ten_letters_or_digits_and_differ() -> None:
    ids = {new_cell_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9]{10}", i) for i in ids)
    seen = set("".join(ids))
    assert len(seen) == 62  # every character of the alphabet occurs


def test_reading_code_without_comments_leaves_it_unchanged() -> None:
    for text in ("x = 10 % 3\nprint(x)", "d = {'!': 1}"):
        assert uncomment_magics(text) is text
    assert uncomment_magics("# %time x = 1\nx % 2") == "%time x = 1\nx % 2"


def test_compiling_a_tree_without_text_still_works() -> None:
    tree = ast.parse("x = 2\nx * 3")
    compiled = compile_cell("t2", "x = 2\nx * 3", tree)
    assert run_compiled_sync(compiled, {}) == 6
