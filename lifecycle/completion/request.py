"""The inputs of a request, read safely: the cursor in the cell's code and the namespace.

Offsets are Python ``str`` indices (Unicode code points) into the cell's code; jedi wants a
line and a column, the fallback completer the word and dotted path before the cursor.  The
namespace is copied (:func:`_snapshot`) before anything looks at it.
"""

from __future__ import annotations

import keyword
import re
import time
from collections.abc import Mapping
from typing import Any

_SNAPSHOT_ATTEMPTS = 5


def _clamp(cursor: int, code: str) -> int:
    """``cursor`` limited to ``0..len(code)``, moved off the middle of a ``\\r\\n`` pair."""
    cursor = max(0, min(int(cursor), len(code)))
    if 0 < cursor < len(code) and code[cursor - 1] == "\r" and code[cursor] == "\n":
        cursor -= 1
    return cursor


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_column(code: str, cursor: int) -> tuple[int, int]:
    """Jedi's position for a character offset: 1-based line, 0-based column in code points.

    Lines break at ``\\n``, ``\\r\\n`` and a lone ``\\r`` (as in parso); ``cursor`` must already
    be clamped by :func:`_clamp`.
    """
    line = 1
    line_start = 0
    for match in _LINE_BREAK.finditer(code, 0, cursor):
        line += 1
        line_start = match.end()
    return line, cursor - line_start


def _snapshot(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``namespace`` without non-``str`` keys, retried while another thread
    changes it.

    ``dict(namespace)`` raises ``RuntimeError`` ("changed size during iteration") when the
    mapping is resized mid-copy, and a mapping that copies key by key (``UserDict``...) can
    raise ``KeyError`` for a key deleted meanwhile.

    Raises:
        RuntimeError, KeyError: the mapping kept changing during every attempt.
    """
    for attempt in range(_SNAPSHOT_ATTEMPTS):
        try:
            snapshot = dict(namespace)
            break
        except (RuntimeError, KeyError):
            if attempt == _SNAPSHOT_ATTEMPTS - 1:
                raise
            time.sleep(0)  # let the mutating thread run
    if not all(type(key) is str for key in snapshot):
        snapshot = {k: v for k, v in snapshot.items() if type(k) is str}
    return snapshot


def _is_ident_char(ch: str) -> bool:
    return ("a" + ch).isidentifier()


def _in_string_or_comment(text: str) -> bool:
    """Whether the end of ``text`` (code up to the cursor) is inside a string or a comment.

    A light scan: quotes (single, triple, with backslash escapes; prefixes are irrelevant)
    and ``#`` comments.  Good enough to keep the fallback from completing inside literals.
    """
    i = 0
    n = len(text)
    quote = ""  # the open string's delimiter: ' " ''' or """
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            if ch in "\r\n" and len(quote) == 1:
                quote = ""  # unterminated single-line string ends at the line break
            i += 1
            continue
        if ch == "#":
            match = _LINE_BREAK.search(text, i)
            if match is None:
                return True
            i = match.end()
            continue
        if ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        i += 1
    return bool(quote)


def _word_start(code: str, cursor: int) -> int:
    start = cursor
    while start > 0 and _is_ident_char(code[start - 1]):
        start -= 1
    return start


def _dotted_path(code: str, dot: int) -> list[str] | None:
    """The names of ``a.b`` in ``a.b.<cursor>``, given the offset of the last dot.

    ``None`` when what precedes the dot is not a plain dotted name (a call, a subscript, a
    literal, ...).
    """
    parts: list[str] = []
    end = dot
    while True:
        begin = _word_start(code, end)
        part = code[begin:end]
        if not part.isidentifier() or keyword.iskeyword(part):
            return None
        parts.append(part)
        if begin > 0 and code[begin - 1] == ".":
            end = begin - 1
            continue
        if begin > 0 and code[begin - 1] in ")]}'\"":
            return None
        return parts[::-1]
