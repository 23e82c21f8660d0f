"""Write edited cells back into a percent ``.py`` file's own text: :func:`splice_percent`.

:func:`~lifecycle.notebook.percent.dumps_percent` writes a whole notebook in one layout; a
file written by hand in another layout (two blank lines between cells, no blank line before a
marker, ``#%%``, no final newline, code before the first marker) would come back
normalised.  Saving edits must not rewrite what the user did not touch, so here the original
text is cut into its header and one span per cell (exactly where
:func:`~lifecycle.notebook.percent.loads_percent` cuts it), the edited cell list is aligned
with the original one (:class:`difflib.SequenceMatcher` over ``(kind, source, name,
options)``), and:

* the header (shebang, module docstring, PEP 723 ``# /// script`` block, comments) is kept
  byte for byte;
* a cell that is unchanged keeps its span byte for byte (only the blank line that separates
  it from the next cell is added or dropped when it becomes, or stops being, the last cell);
* an edited or new cell is written as :func:`dumps_percent` writes it; a deleted cell's span
  is dropped.

So a notebook with no edits gives back the file unchanged.  A byte-order mark and ``\\r\\n``
line breaks (when every break is one) are kept too.  The result is checked by reading it back;
should it not read as the given cells (it always should), the whole notebook is written with
:func:`dumps_percent` under the original header instead, so the cells are never wrong.

Imports the standard library and the sibling format modules only.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence

from lifecycle.notebook.model import Cell, Notebook
from lifecycle.notebook.percent import _MARKER, _split_prelude, dumps_percent, loads_percent

__all__ = ["splice_percent"]

_BOM = "\ufeff"


def _key(cell: Cell) -> Hashable:
    return (cell.kind, cell.source, cell.name, tuple(cell.options.items()))


def _spans(text: str) -> tuple[str, list[str], bool]:
    """``(header, one raw span per cell, whether the first span has no marker line)``."""
    markers = list(_MARKER.finditer(text))
    first = markers[0].start() if markers else len(text)
    header, leading = _split_prelude(text[:first])
    spans = [leading] if leading else []
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        spans.append(text[marker.start() : end])
    return header, spans, bool(leading)


def _fresh(cell: Cell) -> str:
    """A cell as :func:`dumps_percent` writes it (marker line and body, no separator)."""
    return dumps_percent(Notebook(cells=[cell]))


def _fit(span: str, *, last: bool, was_last: bool) -> str:
    """An unchanged span placed last or not last: the blank line that separates cells follows
    the reading rules of :mod:`lifecycle.notebook.percent` (a non-last body loses one)."""
    if was_last and not last:
        return span + ("\n" if span.endswith("\n") else "\n\n")
    if last and not was_last and span.endswith("\n\n"):
        return span[:-1]
    return span


def _splice(original: str, cells: Sequence[Cell]) -> str:
    old = loads_percent(original)
    header, spans, leading = _spans(original)
    if len(spans) != len(old.cells):  # cannot happen: the same cuts as loads_percent
        return dumps_percent(Notebook(cells=list(cells), header=old.header))
    old_keys = [_key(c) for c in old.cells]
    new_keys = [_key(c) for c in cells]
    if old_keys == new_keys:
        return original
    # (text, index of the original span, or None for a cell written fresh)
    pieces: list[tuple[str, int | None]] = []
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces += [(spans[i], i) for i in range(i1, i2)]
        elif tag in ("replace", "insert"):
            pieces += [(_fresh(cells[j]), None) for j in range(j1, j2)]
    out = header
    for position, (span, index) in enumerate(pieces):
        if index == 0 and leading and position != 0:  # code without a marker must stay first
            span, index = _fresh(cells[position]), None
        last = position == len(pieces) - 1
        if index is None:
            span = span if last else span + "\n"
        else:
            span = _fit(span, last=last, was_last=index == len(spans) - 1)
        if out and not out.endswith("\n"):
            out += "\n"  # a marker starts a line
        out += span
    check = loads_percent(out)
    if check.header != old.header or [_key(c) for c in check.cells] != new_keys:
        return dumps_percent(Notebook(cells=list(cells), header=old.header))
    return out


def splice_percent(original: str, cells: Sequence[Cell]) -> str:
    """The text of the percent file ``original`` with its cells replaced by ``cells``,
    changing only the spans of cells that changed (see the module docstring).

    Args:
        original: the file's whole text, as read (a leading BOM and ``\\r\\n`` breaks kept).
        cells: the notebook's cells now, in order (``id``, ``outputs`` and ``metadata`` are
            not part of the format and are ignored).

    Returns:
        The new file text; ``original`` itself when the cells read from it equal ``cells``.

    Raises:
        NotebookFormatError: a changed cell cannot be written in the percent format (an
            option that is not a str, bool, int or finite float, a reserved option key...).
    """
    bom = original.startswith(_BOM)
    text = original[1:] if bom else original
    crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
    if crlf:
        text = text.replace("\r\n", "\n")
    out = _splice(text, cells)
    if crlf:
        out = out.replace("\n", "\r\n")
    return (_BOM if bom else "") + out
