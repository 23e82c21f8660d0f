"""The transformer proper: :func:`transform` (whole cells, cell magics) over
:mod:`lifecycle.ipython_syntax.lines` (escaped logical lines)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifecycle.ipython_syntax.args import OptionError, split_options
from lifecycle.ipython_syntax.lines import (
    MAGIC_NAME,
    TIMEIT_OPTIONS,
    dead_tuple,
    expansion_argument,
    is_candidate,
    rewrite,
)
from lifecycle.ipython_syntax.source import (
    body_of,
    continues,
    ending_of,
    ends_at_statement_start,
    free_names,
    indent_statements,
    parse,
    split_lines,
)

MODULE_BODY_CELL_MAGICS = frozenset({"time", "capture"})
"""Cell magics whose body is Python run in the notebook's namespace (its names are the
cell's definitions and references)."""

FUNCTION_BODY_CELL_MAGICS = frozenset({"timeit"})
"""Cell magics whose body is Python run inside a function (it only reads the namespace)."""

_ESCAPES = re.compile(r"[%!?]")
_MAYBE_SYNTAX = re.compile(r"\?|=\s*[%!]|(?:\A|[\r\n])\s*[%!]")
"""Matches in every cell that has a candidate line (``lines.is_candidate``: a stripped line
starting with ``%``/``!``/``?`` or ending with ``?``, or ``names = %...``/``names = !...``),
also in some that have none.  No match: nothing to rewrite, whatever ``%`` (modulo, string
formatting) or ``!=`` the cell holds."""
_CELL_HEADER = re.compile(r"%%([A-Za-z_]\w*)?(.*)")


@dataclass(frozen=True, slots=True)
class Transformed:
    """A transformed cell.

    Attributes:
        code: plain Python with exactly as many lines as the input.
        changed: 1-based numbers of the lines whose text was rewritten or blanked.
        shifted: 1-based numbers of the lines that are the input line with one space in
            front (the never-executed copy of a ``%%time`` / ``%%capture`` body).
    """

    code: str
    changed: frozenset[int] = frozenset()
    shifted: frozenset[int] = frozenset()


def transform(code: str) -> Transformed:
    """Turn the IPython syntax of one cell into plain Python, line for line.

    Never raises: what is not IPython syntax is left as it is, for the Python parser to
    report.  Code without ``%``, ``!`` or ``?``, or with none of them where IPython syntax
    could start, is returned unchanged at once.
    """
    if not _ESCAPES.search(code) or not _MAYBE_SYNTAX.search(code):
        return Transformed(code)
    try:
        return _transform(code)
    except (RecursionError, MemoryError, ValueError):  # absurd input: the parser reports it
        return Transformed(code)


def _transform(code: str) -> Transformed:
    lines = split_lines(code)
    first = next((i for i, line in enumerate(lines) if body_of(line).strip()), None)
    if first is not None and lines[first].startswith("%%"):
        return _cell_magic(lines, first)
    out, changed = _line_magics(lines)
    if not changed:
        return Transformed(code)
    return Transformed("".join(out), frozenset(changed))


def transform_cell(code: str) -> str:
    """:func:`transform`'s code only."""
    return transform(code).code


def _starts_statement(out: list[str], safe: int, i: int) -> bool:
    if ends_at_statement_start("".join(out[safe:i])):
        return True
    # The segment since the last rewritten line may fail on its own (a dedent to a level
    # opened before it): decide on the whole prefix.
    return safe > 0 and ends_at_statement_start("".join(out[:i]))


def _line_magics(lines: list[str]) -> tuple[list[str], set[int]]:
    out = list(lines)
    changed: set[int] = set()
    safe = 0  # out[:safe] ends where a statement starts (after a rewritten line)
    i = 0
    n = len(lines)
    while i < n:
        if not (is_candidate(lines[i]) and _starts_statement(out, safe, i)):
            i += 1
            continue
        j = i + 1
        text = body_of(lines[i]).strip()
        if not (text.startswith("?") or text.endswith("?")):
            while j < n and continues(lines[j - 1]):
                j += 1
        new = rewrite(lines[i:j], i + 1)
        if new is None:
            i += 1
            continue
        out[i:j] = new
        changed.update(range(i + 1, j + 1))
        safe = i = j
    return out, changed


def _capture_variable(args: str) -> str | None:
    words = [w for w in args.split() if not w.startswith("-")]
    if words and words[-1].isidentifier() and words[-1] != MAGIC_NAME:
        import keyword

        if not keyword.iskeyword(words[-1]):
            return words[-1]
    return None


def _cell_magic(lines: list[str], first: int) -> Transformed:
    """``%%name args`` on the first non-blank line: the rest of the cell is its body."""
    header = body_of(lines[first])
    match = _CELL_HEADER.fullmatch(header)
    name = (match.group(1) if match else None) or ""
    args = (match.group(2) if match else header[2:]).strip()
    body_lines = lines[first + 1 :]
    body = "".join(body_lines)
    if body and not body.endswith(("\n", "\r")):
        body += "\n"  # IPython hands cell magics a body ending with a newline
    lineno = first + 1
    end = ending_of(lines[first])
    out = list(lines[:first])
    changed = {lineno}
    shifted: set[int] = set()
    blank = [ending_of(line) for line in body_lines]
    body_rows = set(range(lineno + 1, lineno + 1 + len(body_lines)))
    if name in MODULE_BODY_CELL_MAGICS:
        call = f"{MAGIC_NAME}.cell({name!r}, {args!r}, {body!r}, {lineno})"
        var = _capture_variable(args) if name == "capture" else None
        inner = transform(body)
        tree = parse(inner.code)
        if tree is not None and not tree.body:  # type: ignore[attr-defined]
            out.append(f"{var} = {call}{end}" if var else f"{call}{end}")
            out += body_lines
        else:
            test = f"({var} := {call})" if var else call
            out.append(f"if {test} and False:{end}")
            indented, rows = indent_statements(inner.code)
            indented = indented[: len(body_lines)]
            indented[-1] = body_of(indented[-1]) + ending_of(body_lines[-1])
            out += indented
            shifted = {lineno + row for row in rows if row <= len(body_lines)}
            changed |= {lineno + row for row in inner.changed}
    elif name in FUNCTION_BODY_CELL_MAGICS:
        try:
            _, setup = split_options(args, TIMEIT_OPTIONS)
        except OptionError:
            setup = ""
        code = transform(body).code
        tree = parse(setup + "\n" + code) or parse(code)
        reads = free_names(tree) if tree is not None else []
        out.append(f"{MAGIC_NAME}.cell({name!r}, {args!r}, {body!r}, {lineno}){dead_tuple(reads)}{end}")
        out += blank
        changed |= body_rows
    else:
        expand = expansion_argument(args)
        out.append(f"{MAGIC_NAME}.cell({name!r}, {args!r}, {body!r}, {lineno}{expand}){end}")
        out += blank
        changed |= body_rows
    return Transformed("".join(out), frozenset(changed), frozenset(shifted))
