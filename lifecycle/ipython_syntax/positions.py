"""Positions in rewritten code pointed back at the cell's own text (used by
:func:`lifecycle.analysis.analyze_cell`): syntax errors quote the line the user wrote, and
nodes on rewritten lines span that whole line, so tracebacks put no carets under code the
user never wrote (Python leaves out carets that would underline a whole line)."""

from __future__ import annotations

import ast

from lifecycle.ipython_syntax.core import Transformed
from lifecycle.ipython_syntax.source import body_of, split_lines


def point_at_source(exc: SyntaxError, code: str, rewritten: Transformed) -> None:
    """Make a syntax error found in ``rewritten`` quote the line of ``code`` it is on, with
    the offsets of that line (in place)."""
    lineno = exc.lineno or 0
    lines = [body_of(line) for line in split_lines(code)]
    if not (0 < lineno <= len(lines)) or lineno not in (rewritten.changed | rewritten.shifted):
        return
    original = lines[lineno - 1]
    if lineno not in rewritten.changed:  # one space was added in front of the line
        exc.offset = max(1, (exc.offset or 1) - 1)
        if exc.end_offset:
            exc.end_offset = max(exc.offset, exc.end_offset - 1)
    else:
        exc.offset = len(original) - len(original.lstrip()) + 1
        exc.end_offset = max(exc.offset, len(original.rstrip()) + 1)
    exc.text = original + "\n"


def cover_rewritten_lines(tree: ast.Module, code: str, rewritten: Transformed) -> None:
    """Give every node of ``tree`` that starts on a rewritten line the columns of that
    whole line of ``code`` (in place; line numbers are unchanged)."""
    changed = rewritten.changed
    if not changed:
        return
    lines = [body_of(line) for line in split_lines(code)]
    for node in ast.walk(tree):
        lineno = getattr(node, "lineno", None)
        if lineno is None or lineno not in changed or lineno > len(lines):
            continue
        text = lines[lineno - 1]
        start = len(text) - len(text.lstrip())
        node.col_offset = start  # type: ignore[attr-defined]
        end = getattr(node, "end_lineno", None)
        if end == lineno:
            node.end_col_offset = max(start, len(text.rstrip()))  # type: ignore[attr-defined]
        elif end is not None and end in changed and end <= len(lines):
            node.end_col_offset = len(lines[end - 1].rstrip())  # type: ignore[attr-defined]
