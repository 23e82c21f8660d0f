"""Shell requests the bridge answers itself: ``is_complete``, ``history``, and the text of
``inspect`` / ``complete`` replies (built from the kernel's ``completion-result``).

Pure logic (no sockets).  Contents follow the Jupyter messaging protocol 5.3.
"""

from __future__ import annotations

import ast
import codeop
import fnmatch
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol

_IDENT_TAIL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT_HEAD = re.compile(r"^[A-Za-z0-9_]*")


def _ipython_to_python(code: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) rewritten as the kernel will run it."""
    from lifecycle.ipython_syntax import transform_cell

    try:
        return transform_cell(code)
    except Exception:  # an unparseable cell: judge the raw text
        return code


def is_complete(code: str) -> dict[str, Any]:
    """The ``is_complete_reply`` content for ``code``.

    ``complete``: it compiles (IPython syntax allowed); ``incomplete``: more lines could make it
    compile (an open block, bracket or triple-quoted string), with the ``indent`` for the next
    line; ``invalid``: a syntax error no continuation can fix.
    """
    source = _ipython_to_python(code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(source)
        except SyntaxError:
            pass
        else:
            if not source.rstrip().endswith("\\"):
                return {"status": "complete"}
        try:
            compiled = codeop.compile_command(source, "<cell>", "exec")
        except (SyntaxError, OverflowError, ValueError):
            return {"status": "invalid"}
    if compiled is not None:
        return {"status": "complete"}
    last = source.rstrip("\n").split("\n")[-1]
    indent = last[: len(last) - len(last.lstrip())]
    if last.rstrip().endswith(":"):
        indent += "    "
    return {"status": "incomplete", "indent": indent}


def word_at(code: str, cursor: int) -> tuple[int, int, str]:
    """The dotted name around ``cursor`` (a code-point offset): ``(start, end, name)``."""
    cursor = max(0, min(cursor, len(code)))
    head = _IDENT_TAIL.search(code[:cursor])
    start = head.start() if head else cursor
    tail = _IDENT_HEAD.match(code[cursor:])
    end = cursor + (tail.end() if tail else 0)
    return start, end, code[start:end]


_HELP = re.compile(r"^\s*(?:\?{1,2}\s*([A-Za-z_][\w.]*)|([A-Za-z_][\w.]*)\s*\?{1,2})\s*$")


def help_target(code: str) -> str | None:
    """The dotted name of a cell that is only IPython's help syntax (``obj?``, ``obj??``,
    ``?obj``), else ``None``."""
    match = _HELP.match(code)
    return (match.group(1) or match.group(2)) if match else None


def inspect_content(name: str, result: protocol.CompletionResult | None, detail_level: int = 0) -> dict[str, Any]:
    """The ``inspect_reply`` content for ``name`` from the kernel's completions of it: found
    when one completion is the name's last part; ``text/plain`` holds its kind, signature and
    documentation."""
    last = name.rsplit(".", 1)[-1]
    match = None
    if result is not None and last:
        match = next((c for c in result.completions if c.name == last), None)
    if match is None:
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}
    lines = []
    if match.signature:
        sig = match.signature
        lines.append(f"Signature: {sig if sig.startswith(last) else last + sig}")
    if match.kind:
        lines.append(f"Type:      {match.kind}")
    if match.doc:
        lines.append("Docstring:\n" + match.doc)
    text = "\n".join(lines) or name
    return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}


def complete_content(result: protocol.CompletionResult | None, cursor: int) -> dict[str, Any]:
    """The ``complete_reply`` content for the kernel's answer (``None``: no answer in time)."""
    if result is None:
        return {"status": "ok", "matches": [], "cursor_start": cursor, "cursor_end": cursor, "metadata": {}}
    matches = [c.name for c in result.completions]
    types = [{"start": result.start, "end": cursor, "text": c.name, "type": c.kind or "",
              "signature": c.signature or ""} for c in result.completions]  # fmt: skip
    return {
        "status": "ok",
        "matches": matches,
        "cursor_start": result.start,
        "cursor_end": cursor,
        "metadata": {"_jupyter_types_experimental": types},
    }


@dataclass
class History:
    """The inputs (and ``text/plain`` results) executed with ``store_history``, numbered from 1
    by execution count, in session :attr:`session` (one session per bridge; no file is kept)."""

    session: int = 1
    entries: list[tuple[int, str, str | None]] = field(default_factory=list)

    def add(self, line: int, code: str, output: str | None) -> None:
        self.entries.append((line, code, output))

    def _row(self, entry: tuple[int, str, str | None], output: bool) -> list[Any]:
        line, code, out = entry
        return [self.session, line, [code, out] if output else code]

    def reply(self, content: dict[str, Any]) -> dict[str, Any]:
        """The ``history_reply`` content for a ``history_request`` content (``tail``, ``range``,
        ``search`` with glob ``pattern``, ``unique`` and ``n``)."""
        kind = content.get("hist_access_type", "tail")
        output = bool(content.get("output", False))
        entries = list(self.entries)
        if kind == "range":
            session = content.get("session", 0)
            if session not in (0, self.session):
                entries = []
            start = int(content.get("start") or 1)
            stop = content.get("stop")
            entries = [e for e in entries if e[0] >= start and (not stop or e[0] < int(stop))]
        elif kind == "search":
            pattern = str(content.get("pattern", "*"))
            entries = [e for e in entries if fnmatch.fnmatchcase(e[1], pattern)]
            if content.get("unique"):
                seen: set[str] = set()
                unique = []
                for e in reversed(entries):
                    if e[1] not in seen:
                        seen.add(e[1])
                        unique.append(e)
                entries = list(reversed(unique))
            n = content.get("n")
            if n:
                entries = entries[-int(n):]
        else:
            n = content.get("n")
            entries = entries[-int(n):] if n else entries
        return {"status": "ok", "history": [self._row(e, output) for e in entries]}
