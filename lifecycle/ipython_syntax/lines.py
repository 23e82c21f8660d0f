"""Rewriting one escaped logical line: ``%magic args``, ``!cmd``, ``x = !cmd``, ``x = %magic``,
``obj?`` / ``obj??`` / ``?obj``.  See the package docstring for the generated shapes.
"""

from __future__ import annotations

import keyword
import re

from lifecycle.ipython_syntax.args import OptionError, expansion_fields, split_options
from lifecycle.ipython_syntax.source import (
    body_of,
    ending_of,
    ends_at_statement_start,
    free_names,
    is_compound,
    last_code_position,
    loaded_names,
    module_stores,
    parse,
)

MAGIC_NAME = "__amphi_magic__"
"""The builtin the generated code calls (installed by :mod:`lifecycle.magics`)."""

NO_EXPAND = frozenset({"time", "timeit", "config"})
"""Line magics whose arguments are code, not subject to ``{expr}``/``$name`` expansion."""

TIMEIT_OPTIONS = "n:r:p:tcqo"
"""``%timeit`` options: ``-n`` loops, ``-r`` runs, ``-p`` precision, ``-t``/``-c`` timer
(accepted), ``-q`` quiet, ``-o`` return the result."""

_ASSIGN = re.compile(r"([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*(?=[%!])")
_MAGIC = re.compile(r"%(%?[A-Za-z_]\w*)?")
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_HELP = re.compile(rf"(\?\??)?\s*(%{{0,2}}{_DOTTED})?\s*(\?\??)?")


def is_candidate(line: str) -> bool:
    """Whether a physical line could be IPython syntax (checked further once it is known to
    start a logical line)."""
    text = body_of(line).strip()
    if not text:
        return False
    return text[0] in "%!?" or text[-1] == "?" or _ASSIGN.match(text) is not None


def _joined(parts: list[str]) -> str:
    """The text of an escaped command continued over several lines (every part but the last
    ends with a backslash): each backslash and line break becomes one space, as IPython
    joins them."""
    return "".join(body_of(part)[:-1] + " " for part in parts[:-1]) + body_of(parts[-1])


def expansion_argument(text: str) -> str:
    """``, {"expr": lambda: (expr), ...}`` for the fields of ``text`` that parse as Python
    (the dataflow analysis sees their names; they are evaluated only when expanded), or
    ``""`` when there are none."""
    getters: dict[str, str] = {}
    for field in expansion_fields(text):
        expr = field.expr
        if "\n" in expr or "\r" in expr or expr in getters:
            continue
        if parse(f"({expr})", "eval") is None:
            continue
        getters[expr] = f"{expr!r}: lambda: ({expr})"
    if not getters:
        return ""
    return ", {" + ", ".join(getters.values()) + "}"


def dead_tuple(reads: list[str], binds: list[str] | None = None) -> str:
    """`` if True else (a, b, (c := None))``: never evaluated, it shows the dataflow analysis
    the names a magic's code reads and binds (``""`` when there are none)."""
    items = [n for n in reads if n != MAGIC_NAME and not keyword.iskeyword(n)]
    items += [f"({n} := None)" for n in binds or () if not keyword.iskeyword(n)]
    if not items:
        return ""
    return " if True else (" + ", ".join(items) + ",)"


def _blank(lines: list[str]) -> list[str]:
    return [ending_of(line) for line in lines]


def _help(text: str) -> str | None:
    match = _HELP.fullmatch(text)
    if match is None or not (match.group(1) or match.group(3)):
        return None
    name = match.group(2) or ""
    detail = 2 if "??" in ((match.group(1) or "") + (match.group(3) or "")) else 1
    call = f"{MAGIC_NAME}.help({name!r}, {detail}"
    parts = name.split(".")
    if name and not name.startswith("%") and not any(keyword.iskeyword(p) for p in parts):
        call += f", lambda: {name}"
    return call + ")"


def _timeit(args: str, lineno: int, col: int) -> str:
    """``%timeit``: the statement is compiled by the magic; the analysis sees the names it
    reads (its free names: it runs as the body of a function, as in IPython)."""
    try:
        _, stmt = split_options(args, TIMEIT_OPTIONS)
    except OptionError:
        stmt = ""
    tree = parse(stmt) if stmt else None
    reads = free_names(tree) if tree is not None else []
    before = args[: len(args) - len(stmt)]
    stmt_col = col + len(before) if "\n" not in before else 0
    return f"{MAGIC_NAME}.timeit({args!r}, {lineno}, {stmt_col})" + dead_tuple(reads)


def _time(chunk: list[str], indent: str, target: str, col: int, lineno: int) -> list[str]:
    """``%time stmt``: expressions become ``timed(clock(), (expr))``, simple statements
    ``with time(): stmt`` (both run as the cell's own code); compound statements run
    through ``time_exec`` (the analysis sees the names they read and bind).  A statement
    left incomplete (an open bracket or string) goes to ``time_exec`` as text, as
    IPython's ``%time`` gets it (its ``SyntaxError`` is raised when the cell runs): the next
    lines are ordinary Python, not the rest of the statement."""
    first = chunk[0]
    stmt_lines = [first[col:], *chunk[1:]]
    stmt = "".join(stmt_lines)
    if not stmt.strip():
        return [f"{indent}{target}{MAGIC_NAME}.line('time', ''){ending_of(first)}", *_blank(chunk[1:])]
    if not ends_at_statement_start(stmt):
        call = f"{MAGIC_NAME}.time_exec({_joined(stmt_lines).strip()!r}, {lineno}, {col})"
        return [f"{indent}{target}{call}{ending_of(first)}", *_blank(chunk[1:])]
    if parse(stmt.strip(), "eval") is not None:
        end = last_code_position(stmt)
        if end is not None:
            prefix = f"{indent}{target}{MAGIC_NAME}.timed({MAGIC_NAME}.clock(), ("
            lines = [prefix + first[col:], *chunk[1:]]
            row, c = end
            offset = len(prefix) if row == 1 else 0
            text = lines[row - 1]
            lines[row - 1] = text[: offset + c] + "))" + text[offset + c :]
            return lines
    tree = parse(stmt)
    if tree is None or (not target and not any(is_compound(s) for s in tree.body)):  # type: ignore[attr-defined]
        return [f"{indent}with {MAGIC_NAME}.time(): {first[col:]}", *chunk[1:]]
    binds = module_stores(tree) if not indent else []
    call = f"{MAGIC_NAME}.time_exec({stmt!r}, {lineno}, {col})" + dead_tuple(loaded_names(tree), binds)
    return [f"{indent}{target}{call}{ending_of(first)}", *_blank(chunk[1:])]


def rewrite(chunk: list[str], lineno: int) -> list[str] | None:
    """Rewrite one escaped logical line (``chunk``: its physical lines, with endings; it
    starts a logical line).  Returns as many lines as ``chunk``, or ``None`` when it is not
    IPython syntax after all (the Python parser then reports it)."""
    first = body_of(chunk[0])
    stripped = first.lstrip(" \t")
    indent = first[: len(first) - len(stripped)]
    end = ending_of(chunk[0])
    if len(chunk) == 1:
        call = _help(stripped.rstrip())
        if call is not None:
            return [f"{indent}{call}{end}"]
    target = ""
    rest = stripped
    assign = _ASSIGN.match(rest)
    if assign is not None:
        target = assign.group(1) + " = "
        rest = rest[assign.end() :]
    col = len(first) - len(rest)  # where the escape character is
    if rest.startswith("!"):
        getoutput = bool(target) or rest.startswith("!!")
        skip = 2 if rest.startswith("!!") else 1
        cmd = _joined([chunk[0][col + skip :], *chunk[1:]]).strip()
        func = "getoutput" if getoutput else "system"
        call = f"{MAGIC_NAME}.{func}({cmd!r}{expansion_argument(cmd)})"
        return [f"{indent}{target}{call}{end}", *_blank(chunk[1:])]
    if not rest.startswith("%"):
        return None
    match = _MAGIC.match(rest)
    name = (match.group(1) if match else None) or ""
    args_col = col + (match.end() if match else 1)
    if name == "time":
        while args_col < len(first) and first[args_col] in " \t":
            args_col += 1
        return _time(chunk, indent, target, args_col, lineno)
    args = _joined([chunk[0][args_col:], *chunk[1:]])
    lead = len(args) - len(args.lstrip())
    args = args.strip()
    if name == "timeit":
        call = _timeit(args, lineno, args_col + lead)
    elif name == "pip" and not indent:
        call = f"await {MAGIC_NAME}.pip({args!r}{expansion_argument(args)})"
    else:
        expand = "" if name in NO_EXPAND else expansion_argument(args)
        call = f"{MAGIC_NAME}.line({name!r}, {args!r}{expand})"
    return [f"{indent}{target}{call}{end}", *_blank(chunk[1:])]
