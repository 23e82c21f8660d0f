"""The harness itself: normalisation, output items, comparison reports, edit choice."""

from __future__ import annotations

import pytest

from tests.conformance.corpus import cell_items, compare, normalise_plain, normalise_stream
from tests.conformance.reactive import NEUTRAL_LINE, choose_edits

pytestmark = pytest.mark.timeout(30)


def test_normalisation_is_exactly_the_allowed_one() -> None:
    assert normalise_stream("\x1b[31mred\x1b[0m") == "red"
    assert normalise_stream("<A object at 0x7f3a2b>") == "<A object at 0x...>"
    for name in ('<ipykernel-cell>', "/tmp/ipykernel_4242/123456.py", "<cell AbC12>", "<ipython-input-3-4a5b>"):
        assert normalise_stream(f'  File "{name}", line 2, in <module>\n') == '  File "<cell>", line 2, in <module>\n'
        assert normalise_stream(f"{name}:3: UserWarning: x\n") == "<cell>:3: UserWarning: x\n"
    # Other file names, other text and whitespace in console text are kept.
    assert normalise_stream('  File "/usr/lib/python3.12/abc.py", line 2\n') == '  File "/usr/lib/python3.12/abc.py", line 2\n'
    assert normalise_stream("a  b\n\n") == "a  b\n\n"
    assert normalise_stream("at 0xZZ") == "at 0xZZ"
    # text/plain: runs of whitespace are one space (line breaking may differ).
    assert normalise_plain("[1,\n 2,\n 3]") == normalise_plain("[1, 2, 3]")
    assert normalise_plain("[1,2]") != normalise_plain("[1, 2]")


def test_cell_items() -> None:
    outputs = [
        {"output_type": "stream", "name": "stderr", "text": "warn\n"},
        {"output_type": "stream", "name": "stdout", "text": ["a", "b\n"]},
        {"output_type": "stream", "name": "stdout", "text": "c\n"},
        {"output_type": "display_data", "data": {"text/plain": "D", "text/html": "<b>D</b>"}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "e\n"},
        {"output_type": "execute_result", "data": {"text/plain": ["{1: 2,\n", " 3: 4}"]}, "metadata": {}},
        {"output_type": "error", "ename": "ValueError", "evalue": "v", "traceback": ["\x1b[31m..."]},
    ]
    assert cell_items(outputs) == [
        ("stdout", "ab\nc\n"), ("stderr", "warn\n"), ("display", "D"), ("stdout", "e\n"),
        ("result", "{1: 2, 3: 4}"), ("error", "ValueError"),
    ]
    assert cell_items([]) == []


def test_mismatch_report_names_notebook_cell_both_texts_and_a_diff() -> None:
    cmp = compare("nb", ["x = 1", "print(x)"], [[], [("stdout", "1\n")]], [[], [("stdout", "2\n")]])
    assert (cmp.cells, cmp.matched, cmp.ok) == (2, 1, False)
    report = cmp.report("reference", "ours")
    for needle in ("nb", "code cell 1", "print(x)", "reference:", "ours:", "-1", "+2", "diff:"):
        assert needle in report
    allowed = compare("nb", ["x"], [[("result", "1")]], [[("result", "2")]], allowed_cells={0})
    assert allowed.ok and len(allowed.allowed) == 1


def test_choose_edits_neutral_then_value() -> None:
    sources = ["import math\nn = 10\n", "def f(k):\n    'doc'\n    return k * 3\n", "print(f(n))", "n + 1"]
    neutral, value = choose_edits(sources)
    assert (neutral.kind, neutral.cell) == ("neutral", 0)
    assert neutral.source == NEUTRAL_LINE + sources[0]
    assert (value.kind, value.cell) == ("value", 0)
    assert value.source == NEUTRAL_LINE + "import math\nn = 11\n"


def test_choose_edits_prefers_assignments_and_skips_docstrings_and_fstrings() -> None:
    sources = ['def f():\n    "doc 1"\n    return f"{2}" + "x"\n', "y = f()"]
    _, value = choose_edits(sources)
    assert value.cell == 0 and value.source.endswith('return f"{2}" + \'x!\'\n')
    assert choose_edits(["print(1)"])[0].cell == 0
    assert len(choose_edits(["print(1)"])) == 1  # nothing feeds another cell: no value edit


def test_choose_edits_handles_future_imports_and_unicode() -> None:
    sources = ["from __future__ import annotations\ncafé = 'ü'", "print(café)"]
    neutral, value = choose_edits(sources)
    assert neutral.source.startswith("from __future__") and neutral.source.endswith(NEUTRAL_LINE)
    assert "café = 'ü!'" in value.source


def test_invariant_problems_keep_what_does_not_vary() -> None:
    from tests.conformance.corpus import invariant_problems

    versions = [
        [("stdout", "Help on X:\n\nsig(a, /)\n    doc line\n"), ("error", "TypeError")],
        [("stdout", "Help on X:\n\nsig(a)\n    doc line\n"), ("error", "TypeError")],
    ]
    # What varies (the signature line) may differ; the common lines and the error type may not.
    assert invariant_problems(versions, [("stdout", "Help on X:\n\nsig(a, /) new\n    doc line\n"), ("error", "TypeError")]) == []
    assert invariant_problems(versions, [("stdout", "Help on X:\n\nsig\n"), ("error", "TypeError")])
    assert invariant_problems(versions, [("stdout", "Help on X:\n\nsig(a)\n    doc line\n"), ("error", "ValueError")])
    assert invariant_problems(versions, [("stdout", "Help on X:\n    doc line\n")])  # kinds differ
    # A line named as changed by the newer version must be common, and is then not required...
    changed = [("stdout", "Help on the X:\n\nsig(b)\n    doc line\n"), ("error", "TypeError")]
    assert invariant_problems(versions, changed)
    assert invariant_problems(versions, changed, ("Help on X:",)) == []
    # ... but it must really be changed, and be a line every version has.
    same = [("stdout", "Help on X:\n\nsig(b)\n    doc line\n"), ("error", "TypeError")]
    assert invariant_problems(versions, same, ("Help on X:",))
    assert invariant_problems(versions, changed, ("Help on X:", "sig(a)"))


def test_platform_limit_explains_only_the_documented_difference() -> None:
    from tests.conformance.corpus import CellMismatch, PlatformLimit

    limit = PlatformLimit("errno", (("[Errno 44]", "[Errno 2]"),))
    expected = [("stdout", "Exception: [Errno 2] No such file\n")]
    assert limit.explains(CellMismatch("nb", 1, "", expected, [("stdout", "Exception: [Errno 44] No such file\n")]))
    assert not limit.explains(CellMismatch("nb", 1, "", expected, [("stdout", "Exception: [Errno 44] No such\n")]))
    assert not limit.explains(CellMismatch("nb", 1, "", expected, [("stderr", "Exception: [Errno 44] No such file\n")]))


def test_results_table_has_a_column_pair_per_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.conformance.conftest import ConformanceSession, results_table
    from tests.conformance.corpus import load_corpus
    from tests.conformance.runners import PyodideRunner, RunOutcome, SubprocessRunner

    (tmp_path / "notebooks").mkdir()
    doc = {"cells": [{"cell_type": "code", "source": "1", "outputs": []}, {"cell_type": "code", "source": "2"}]}
    (tmp_path / "notebooks" / "nb.ipynb").write_text(json.dumps(doc))
    session = ConformanceSession(load_corpus(tmp_path), None, 2)
    session.runners = {"cpython-3.12": SubprocessRunner("3.12"), "pyodide": PyodideRunner()}
    session.top = {("cpython-3.12", "nb"): RunOutcome([], 0.5), ("pyodide", "nb"): RunOutcome([], 1.25)}
    session.comparisons = {
        ("cpython-3.12", "nb"): compare("nb", ["1", "2"], [[], []], [[], []]),
        ("pyodide", "nb"): compare("nb", ["1", "2"], [[], [("result", "2")]], [[], [("result", "3")]], {1}),
    }
    head, _, row, total = results_table(session).splitlines()
    assert [c.strip() for c in head.strip("|").split("|")] == [
        "notebook", "cells", "cpython-3.12 matched", "cpython-3.12 s", "pyodide matched", "pyodide s",
    ]  # fmt: skip
    assert [c.strip() for c in row.strip("|").split("|")] == ["nb", "2", "2/2", "0.50", "1/2 +1v", "1.25"]
    assert "1/2 +1v" in total
