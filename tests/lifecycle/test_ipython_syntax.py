"""The IPython-syntax transformer: plain Python out, line for line, names visible to the graph."""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.analysis import analyze_cell
from lifecycle.ipython_syntax import (
    MAGIC_NAME,
    ExpansionField,
    OptionError,
    expand,
    expansion_fields,
    split_options,
    transform,
    transform_cell,
)

pytestmark = pytest.mark.timeout(60)


def _lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# (cell, definitions, references that must be there, references that must not)
GRAPH_CASES = [
    ("%matplotlib inline", set(), set(), set()),
    ("%timeit f(x)", set(), {"f", "x"}, set()),
    ("%timeit -n 10 -r 3 y = f(x)", set(), {"f", "x"}, {"y"}),
    ("res = %timeit -o -q f(x)", {"res"}, {"f", "x"}, set()),
    ("%time y = f(x)", {"y"}, {"f", "x"}, set()),
    ("%time f(x)", set(), {"f", "x"}, set()),
    ("v = %time f(x)", {"v"}, {"f", "x"}, set()),
    ("%time for i in r: t += i", {"i", "t"}, {"r", "t"}, set()),
    ("x = !ls {path}", {"x"}, {"path"}, set()),
    ("!echo $name and {n + 1}", set(), {"name", "n"}, set()),
    ("!awk '{print $1}' data.csv", set(), set(), {"print"}),
    ("%%capture out\nprint(a)\nb = 1", {"out", "b"}, {"print", "a"}, set()),
    ("%%time\nz = f(y)\nz", {"z"}, {"f", "y"}, set()),
    ("%%timeit -n 5 s = setup()\ng(s, w)", set(), {"setup", "g", "w"}, {"s"}),
    ("%%writefile {name}.txt\nbody {not_code}", set(), {"name"}, {"not_code"}),
    ("%%bash\necho $x", set(), set(), {"x"}),
    ("np.sum?", set(), {"np"}, set()),
    ("??obj.attr", set(), {"obj"}, set()),
    ("%env A={val}", set(), {"val"}, set()),
    ("%foo bar", set(), set(), set()),
    ("%pip install numpy", set(), set(), set()),
    ("x = 1\n!echo {x}", {"x"}, set(), {"x"}),
    ("%%capture\n%%time\nq = w", {"q"}, {"w"}, set()),
]


@pytest.mark.parametrize("code, defs, refs, not_refs", GRAPH_CASES)
def test_magic_names_are_in_the_graph(code: str, defs: set[str], refs: set[str], not_refs: set[str]) -> None:
    analysis = analyze_cell(code)
    assert analysis.error is None, analysis.error
    assert set(analysis.defs) == defs
    assert refs <= set(analysis.refs)
    assert not (not_refs & set(analysis.refs))
    assert MAGIC_NAME not in analysis.refs


EVERY_MAGIC = [
    "%matplotlib inline", "%matplotlib", "%config InlineBackend.figure_format = 'svg'",
    "%time x = 1", "%timeit -n 1 -r 1 -o -q x", "%%time\nx = 1", "%%timeit -n 1\nx",
    "%%capture out\nprint(1)", "%%writefile -a f.txt\ntext", "%env", "%env A", "%env A=1",
    "%env A 1", "%cd /tmp", "%pwd", "%who", "%whos", "%load_ext autoreload",
    "%autoreload 2", "%pip install numpy", "!ls", "x = !ls", "!!ls", "obj?", "obj??",
    "?obj", "%%bash\necho", "%%html\n<b>", "%lsmagic", "%timeit?",
]


@pytest.mark.parametrize("code", EVERY_MAGIC)
def test_every_magic_becomes_python(code: str) -> None:
    out = transform_cell(code)
    assert MAGIC_NAME in out
    ast.parse(out) if "await" not in out else compile(out, "<t>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert _lines(out) == _lines(code)
    assert analyze_cell(code).error is None


UNTOUCHED = [
    "x = a % b",
    "s = '%timeit x'\nt = \"!ls\"",
    "doc = '''\n%time f()\n!rm -rf /\nobj?\n'''",
    "y = (a\n     % b)",
    "z = a \\\n    % b",
    "print(f'{x!r} is {y!s}?')",
    "# %timeit commented\n# what?",
    "d = {'a': 1 % 2,\n     'b': '?'}",
    "if a != b:\n    pass",
]


@pytest.mark.parametrize("code", UNTOUCHED)
def test_python_is_untouched(code: str) -> None:
    compile(code, "<t>", "exec")
    assert transform_cell(code) is code or transform_cell(code) == code


def test_line_numbers_are_kept() -> None:
    code = (
        "a = 1\n"
        "%timeit np.fromiter((xi + yi for xi, yi in zip(x, y)), \\\n"
        "                    dtype=x.dtype, count=len(x))\n"
        "b = 2\n"
        "!ls \\\n"
        "  -l\n"
        "c = 3\n"
    )
    result = transform(code)
    assert _lines(result.code) == _lines(code)
    assert result.changed == {2, 3, 5, 6}
    tree = ast.parse(result.code)
    where = {t.id: node.lineno for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    assert where == {"a": 1, "b": 4, "c": 7}
    assert {"np", "x", "y", "zip", "len"} <= set(analyze_cell(code).refs)


# IPython 9's TransformerManager().transform_cell gives the same extents: an escaped line
# goes on only after a trailing backslash (joined with a space); an open bracket or
# triple-quoted string does not continue it, the next lines are ordinary Python.
EXTENT_CASES = [
    ("%foo f(a,\n      b)", ["__amphi_magic__.line('foo', 'f(a,')", "      b)"]),
    ("!echo (a\nb)", ["__amphi_magic__.system('echo (a')", "b)"]),
    ("x = !echo '''a\nb'''", ["x = __amphi_magic__.getoutput(\"echo '''a\")", "b'''"]),
    ("x = %foo [1,\n 2]", ["x = __amphi_magic__.line('foo', '[1,')", " 2]"]),
    ("%foo a  \\\n  b  ", ["__amphi_magic__.line('foo', 'a     b')", ""]),
    ("!ls \\\n  -l \\\n  -a", ["__amphi_magic__.system('ls    -l    -a')", "", ""]),
    ("x = !echo a \\\n b", ["x = __amphi_magic__.getoutput('echo a   b')", ""]),
    ("%foo a\\ \nb", ["__amphi_magic__.line('foo', 'a\\\\')", "b"]),  # a space after it
    ("%foo a\\\n%bar", ["__amphi_magic__.line('foo', 'a %bar')", ""]),
    ("%foo a\\", ["__amphi_magic__.line('foo', 'a\\\\')"]),  # nothing to continue onto
    # %time gets the incomplete statement as text (compiled, at its place, when it runs)
    ("%time f(1,\n 2)", ["__amphi_magic__.time_exec('f(1,', 1, 6)", " 2)"]),
    ("v = %time f(1,\n2)", ["v = __amphi_magic__.time_exec('f(1,', 1, 10)", "2)"]),
    ("%time s = \"\"\"a\nb\"\"\"", ["__amphi_magic__.time_exec('s = \"\"\"a', 1, 6)", 'b"""']),
]


@pytest.mark.parametrize("code, lines", EXTENT_CASES)
def test_only_a_trailing_backslash_continues_an_escaped_line(code: str, lines: list[str]) -> None:
    assert transform_cell(code).split("\n") == lines


def test_magic_with_an_open_bracket_then_an_indented_line_is_an_indentation_error() -> None:
    # pdsh 03.12: IPython reports "IndentationError: unexpected indent" on line 2, quoting it.
    code = "%timeit np.fromiter((xi + yi for xi, yi in zip(x, y)),\n                    dtype=x.dtype, count=len(x))"
    error = analyze_cell(code).error
    assert type(error) is IndentationError
    assert (error.msg, error.lineno) == ("unexpected indent", 2)
    assert error.text == "                    dtype=x.dtype, count=len(x))\n"


def test_cell_magic_body_keeps_its_lines_and_strings() -> None:
    code = "%%time\nx = f(1)\ns = '''a\nb'''\nx\n"
    result = transform(code)
    tree = ast.parse(result.code)
    dead = tree.body[0]
    assert isinstance(dead, ast.If)
    assert [node.lineno for node in dead.body] == [2, 3, 5]
    string = dead.body[1].value  # type: ignore[attr-defined]
    assert string.value == "a\nb"  # the string was not re-indented
    assert result.shifted == {2, 3, 5}


def test_cell_magics_only_on_the_first_line() -> None:
    assert "cell(" in transform_cell("\n\n%%bash\necho hi")
    later = transform_cell("x = 1\n%%time\ny = 2")
    assert "line('%time'" in later  # an error naming it when the cell runs
    assert analyze_cell("x = 1\n%%time\ny = 2").defs == {"x", "y"}


def test_syntax_errors_quote_the_cells_own_line() -> None:
    analysis = analyze_cell("a = 1\n%time b = (1 +\n    2)\n")  # %time gets "b = (1 +" only
    assert analysis.error is not None and analysis.error.lineno == 3
    assert (analysis.error.text or "").strip() == "2)"
    analysis = analyze_cell("%%time\nx = (\n")
    assert analysis.error is not None
    assert analysis.error.lineno == 2
    assert (analysis.error.text or "").strip() == "x = ("
    error = analyze_cell("%time x = = 1").error
    assert error is not None and error.lineno == 1
    assert (error.text or "").strip() == "%time x = = 1"


def test_traceback_columns_cover_the_magic_line() -> None:
    tree = analyze_cell("%time y = 1 / 0").tree
    assert tree is not None
    for node in ast.walk(tree):
        if hasattr(node, "col_offset") and getattr(node, "lineno", None) == 1:
            assert node.col_offset == 0
            if node.end_lineno == 1:  # type: ignore[attr-defined]
                assert node.end_col_offset == len("%time y = 1 / 0")  # type: ignore[attr-defined]


def test_split_options() -> None:
    assert split_options("-n 10 -r3 -qo f(x, -1)", "n:r:p:tcqo") == (
        {"n": "10", "r": "3", "q": True, "o": True}, "f(x, -1)"
    )
    assert split_options("-1 + x", "n:r:") == ({}, "-1 + x")
    assert split_options("x  =  'a  b'", "n:") == ({}, "x  =  'a  b'")
    with pytest.raises(OptionError):
        split_options("-z f()", "n:r:")
    with pytest.raises(OptionError):
        split_options("-n", "n:r:")


def test_expansion() -> None:
    getters = {"x": lambda: 3, "y.z": lambda: "v", "n + 1": lambda: 5}
    assert expand("echo {x} $y.z {n + 1} $$HOME {x!r:>3}", getters) == "echo 3 v 5 $HOME   3"
    assert expand("awk '{print $1}'", getters) == "awk '{print $1}'"
    assert expand("echo '$x'", getters) == "echo '$x'"
    assert expand("echo {missing}", getters) == "echo {missing}"
    assert expand("echo {x} {boom}", {"x": lambda: 1, "boom": lambda: 1 / 0}) == "echo {x} {boom}"
    assert expansion_fields("a {b:>2} $c") == [ExpansionField("b", None, ">2"), ExpansionField("c")]
    assert expansion_fields("unbalanced }") == []


_FRAGMENTS = [
    "x = a % b", "y = (a !=\n     b)", "# comment %timeit ?", "z = a \\\n    % 3",
    "s = '''\n%time\n!ls\nq?\n'''", "d = {'k': 1 % 2,\n     'v': '?'}", "if a:\n    w = a % 2",
    "def f(v):\n    return v % 2", "print(f'{a!r}?')", "t = 'x?' if a else '%d' % 1", "pass",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=20).map(lambda s: f"s = {s!r}")),
        max_size=12,
    )
)
def test_plain_python_is_unchanged(parts: list[str]) -> None:
    code = "\n".join(parts)
    try:
        compile(code, "<t>", "exec")
    except SyntaxError:
        return
    assert transform_cell(code) == code


# ------------------------------------------------------------------------ percent files

NOTEBOOK_CELLS = [
    "%matplotlib inline\nimport numpy as np",
    "%timeit np.fromiter((xi + yi for xi, yi in zip(x, y)),\n                    dtype=x.dtype, count=len(x))",
    "!head -4 data/president_heights.csv\nfiles = !ls\n# %timeit already a comment",
    "s = '''\n%not a magic inside a string\n'''\nnp.sum?\nif s:\n    %time f()\n    g()",
    "%%bash\necho hi\n\n# a bash comment",
    "%%writefile notes.txt\n# %% looks like a marker\ntext",
    "%%time\nx = 1\n!ls",
    "y = (a\n     %b)",
    "%time z = 1 + \\\n    2",
    "# !pip install numpy",
]


def test_percent_file_comments_magics_and_reads_them_back() -> None:
    from lifecycle.notebook import Cell, Notebook, dumps_percent, loads_percent

    nb = Notebook(cells=[Cell(f"c{i}", "code", source) for i, source in enumerate(NOTEBOOK_CELLS)])
    text = dumps_percent(nb)
    assert "\n# %timeit np.fromiter((xi + yi for xi, yi in zip(x, y)),\n#                     dtype" in text
    assert "\n# !head -4 data/president_heights.csv\n# files = !ls\n# # %timeit already" in text
    assert "\n    # %time f()\n    g()\n" in text
    assert "\n# %%bash\n# echo hi\n#\n# # a bash comment\n" in text
    assert "\n%not a magic inside a string\n" in text
    compile(text, "notebook.py", "exec")  # the file is a valid script
    again = loads_percent(text)
    assert [c.source for c in again.cells] == NOTEBOOK_CELLS
    assert dumps_percent(again) == text


def test_percent_uncommented_magics_are_read_as_written_by_hand() -> None:
    from lifecycle.notebook import loads_percent

    nb = loads_percent("# %%\n#%matplotlib inline\n%timeit f(x)\n# plain comment\n")
    assert nb.cells[0].source == "%matplotlib inline\n%timeit f(x)\n# plain comment"


_MAGIC_LINES = [
    "%timeit f(x)", "!ls -l", "x = !ls", "np.sum?", "??np", "# %time x", "# # !deep",
    "%time f(a,\n      b)", "!echo \\\n  more", "s = '''\n%in string\n'''", "x = 1 % 2",
    "if a:\n    %time f()\n    pass", "y = (a\n%b)", "#", "", "# %% marker-like", "%%time",
    "%%bash", "#%matplotlib", "'", "x = (", "    !indented",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_MAGIC_LINES), max_size=10))
def test_percent_magic_round_trip_property(parts: list[str]) -> None:
    from lifecycle.notebook.magics import comment_magics, uncomment_magics

    source = "\n".join(parts)
    assert uncomment_magics(comment_magics(source)) == source
