"""``lifecycle.notebook.splice.splice_percent``: edited cells written back into a percent file's
own text, the rest of the file byte for byte (what the browser edit mode downloads; the
session's side: tests/pyodide/test_download_and_input_cpython.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.notebook import Cell, Notebook, dumps_percent, loads_percent
from lifecycle.notebook.splice import splice_percent

HAND_WRITTEN = [
    '#!/usr/bin/env python\n"""Doc."""\n# /// script\n# dependencies = ["tabulate"]\n# ///\n# a comment\n\n'
    "# %%\nx = 1\n\n\n# %% named\n# comment in cell\ny = x + 1\n#%% [markdown]\n# Hello\n# %%\n%timeit y\n",
    "import x\n\n# %%\ny\n",
    "x = 1",
    "# %%\na\n\n# %%\nb",
    '"""only a docstring"""\n',
    "# %%\n\n# %%\n\n\n",
    "\ufeff# %%\r\na\r\n\r\n# %%\r\nb\r\n",
]


def _read(text: str) -> Notebook:
    """What the exporter reads (``read_notebook``: BOM dropped, CRLF read as LF)."""
    return loads_percent(text.removeprefix("\ufeff").replace("\r\n", "\n"))


def _shape(cells: list[Cell]) -> list[tuple]:
    return [(c.kind, c.source, c.name, dict(c.options)) for c in cells]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_no_edits_give_back_the_file_and_every_edit_reads_back(text: str) -> None:
    cells = _read(text).cells
    assert splice_percent(text, cells) == text
    new = Cell(id="n", kind="markdown", source="# new\ntext")
    variants = [cells[:i] + cells[i + 1 :] for i in range(len(cells))]
    variants += [[*cells[:i], new, *cells[i:]] for i in range(len(cells) + 1)]
    edited = Cell(id="e", kind="code", source="EDITED = 1")
    variants += [[*cells[:i], edited, *cells[i + 1 :]] for i in range(len(cells))]
    for wanted in variants:
        out = splice_percent(text, wanted)
        assert _shape(_read(out).cells) == _shape(wanted), (text, out)
        assert _read(out).header == _read(text).header
        assert out.startswith("\ufeff") == text.startswith("\ufeff")


def test_only_the_edited_cell_changes() -> None:
    text = HAND_WRITTEN[0]
    cells = _read(text).cells
    cells[1] = Cell(id="q", kind="code", source="y = x + 2", name="named")
    out = splice_percent(text, cells)
    before, after = text.split("# %% named\n")
    assert out.startswith(before + "# %% named\ny = x + 2\n")
    assert out.endswith(after[after.index("#%% [markdown]") :])


CELL = st.builds(
    lambda kind, source, name: Cell(id="x", kind=kind, source=source, name=name),
    st.sampled_from(["code", "markdown", "raw"]),
    st.text(alphabet="ab #%\n=", max_size=20),
    st.one_of(st.none(), st.sampled_from(["load", "plot x"])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(CELL, max_size=6), st.lists(CELL, max_size=6), st.data())
def test_splicing_any_edit_of_any_written_notebook_reads_back_as_the_edit(old: list[Cell], extra: list[Cell], data: st.DataObject) -> None:
    original = dumps_percent(Notebook(cells=old, header='"""Doc."""\n# /// script\n# dependencies = []\n# ///\n'))
    cells = _read(original).cells
    assert splice_percent(original, cells) == original
    keep = data.draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    wanted = [c for c, k in zip(cells, keep) if k]
    for cell in extra:
        wanted.insert(data.draw(st.integers(0, len(wanted))), cell)
    out = splice_percent(original, wanted)
    assert _shape(_read(out).cells) == _shape(_read(dumps_percent(Notebook(cells=wanted))).cells)
    assert _read(out).header == _read(original).header
