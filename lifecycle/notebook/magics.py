"""IPython syntax in percent ``.py`` files: written commented, read back uncommented (the
Jupytext convention), so a notebook file is always a valid Python script.

In a code cell, a line where a statement could start (not inside a string or brackets, not
after a backslash) that is IPython syntax gets ``# `` after its indentation::

    %timeit f(x)        ->  # %timeit f(x)
    !head -4 data.csv   ->  # !head -4 data.csv
    files = !ls         ->  # files = !ls
    np.sum?             ->  # np.sum?

Such a line already commented any number of times (``# %timeit``, a commented-out magic in
the notebook) is recognised too and gets one more ``# ``, so reading removes exactly one level
and every source comes back unchanged.  Lines continuing a magic (open brackets, trailing
backslash) are commented with it.  A cell starting with a cell magic whose body is not Python
(``%%bash``, ``%%html``, ``%%writefile``...) is commented as a whole (empty lines as ``#``);
for ``%%time``, ``%%timeit``, ``%%capture`` only that first line is.

Consequence of the convention (as with Jupytext): a hand-written script whose comment looks
like commented IPython syntax (``# !important``, ``# why?``) reads as that syntax.

Standard library only; no other :mod:`lifecycle` module (the notebook layer is the lowest).
"""

from __future__ import annotations

import re

__all__ = ["comment_magics", "uncomment_magics"]

PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
"""Cell magics whose body is Python (only their first line is commented)."""

_LINE = re.compile(
    r"(?P<indent>[ \t]*)(?P<levels>(?:# ?)*)(?P<body>"
    r"%%?[A-Za-z].*"  # line and cell magics
    r"|(?:!!?|\?\??)[ \t]*[\w.~$\\/{}'\"%-].*"  # shell escapes, ?obj
    r"|[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*(?:%%?[A-Za-z]|!).*"  # x = !cmd
    r"|%{0,2}[A-Za-z_][\w.]*\?\??[ \t]*"  # obj? obj??
    r")"
)
_CELL_MAGIC = re.compile(r"%%([A-Za-z_]\w*)")


class _Scanner:
    """Where a statement can start: tracks open strings, brackets and backslash lines."""

    def __init__(self) -> None:
        self.quote: str | None = None
        self.depth = 0
        self.continued = False

    def at_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line: str) -> None:
        self.continued = False
        i, n = 0, len(line)
        while i < n:
            char = line[i]
            if self.quote is not None:
                if char == "\\":
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                else:
                    i += 1
                continue
            if char == "#":
                return
            if char in "'\"":
                self.quote = char * 3 if line.startswith(char * 3, i) else char
                i += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char == "\\" and i == n - 1:
                self.continued = True
            i += 1
        if self.quote in ("'", '"') and not line.endswith("\\"):
            self.quote = None  # an unterminated one-line string ends with its line


def _payload(body: str) -> str:
    """The part of a magic line whose brackets may continue on the next line."""
    match = re.match(r"(?:[A-Za-z_][\w.,\s]*=\s*)?(?:%%?[A-Za-z_]\w*|!!?)", body)
    return body[match.end() :] if match else body


def _cell_magic_name(lines: list[str], levels: int) -> str | None:
    """The cell magic the cell starts with (its first non-blank line commented ``levels``
    times), else ``None``."""
    for line in lines:
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if match is None or match["indent"] or match["levels"].count("#") != levels:
            return None
        name = _CELL_MAGIC.match(match["body"])
        return name.group(1) if name else None
    return None


def _comment(line: str) -> str:
    return "#" if not line else "# " + line


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def _convert(source: str, write: bool) -> str:
    lines = source.split("\n")
    name = _cell_magic_name(lines, 0 if write else 1)
    if name is not None and name not in PYTHON_BODY_CELL_MAGICS:
        lead = next(i for i, line in enumerate(lines) if line.strip())  # blank lines stay
        body = [_comment(line) if write else _uncomment(line) for line in lines[lead:]]
        return "\n".join(lines[:lead] + body)
    scanner = _Scanner()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _LINE.fullmatch(line) if scanner.at_start() else None
        levels = match["levels"] if match else ""
        if match is None or (not write and not levels):
            scanner.feed(line)
            out.append(line)
            i += 1
            continue
        indent = match["indent"]
        rest = line[len(indent) :]
        out.append(indent + ("# " + rest if write else _uncomment(rest)))
        magic = _Scanner()
        magic.feed(_payload(match["body"]))
        i += 1
        while i < len(lines) and not magic.at_start():
            if write:
                source_line, written = lines[i], _comment(lines[i])
            elif lines[i].startswith("#"):
                source_line = written = _uncomment(lines[i])
            else:  # edited by hand: the magic ends here
                break
            out.append(written)
            magic.feed(source_line)
            i += 1
    return "\n".join(out)


def comment_magics(source: str) -> str:
    """A code cell's source as written to a percent file (IPython syntax commented; see the
    module docstring).  Plain Python comes back unchanged."""
    if not any(c in source for c in "%!?"):
        return source
    return _convert(source, write=True)


def uncomment_magics(text: str) -> str:
    """The inverse of :func:`comment_magics`: a code cell's text read from a percent file."""
    # Only a commented line (``# %magic``) changes on reading: no "#", nothing to do.
    if "#" not in text or not any(c in text for c in "%!?"):
        return text
    return _convert(text, write=False)
