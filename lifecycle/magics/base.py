"""What every magic family shares: :class:`UsageError`, :class:`MagicCall` (one invocation),
compiling magic code at its true position in the cell, and showing a value as the cell's
result."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from lifecycle import context as context_mod
from lifecycle.ipython_syntax import cover_rewritten_lines, expand, transform

__all__ = [
    "CellMagic",
    "LineMagic",
    "MagicCall",
    "UsageError",
    "compile_at",
    "in_browser",
    "show_result",
]

_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class UsageError(Exception):
    """A magic that does not exist, or one used with wrong arguments (IPython's
    ``UsageError``): raised when the cell runs, shown as the cell's error."""


@dataclass
class MagicCall:
    """One invocation of a magic, as its implementation sees it.

    Attributes:
        name: the magic's name, without ``%``.
        args: its arguments, ``{expr}``/``$name`` already expanded (where it applies).
        globals, locals: the namespaces of the code that invoked it (the cell's globals;
            ``locals`` differ inside a function).
        filename: the invoking code's file name (``<cell ID>``: magic code compiled with it
            shows the cell's lines in tracebacks).
        lineno: the 1-based line of the magic in the cell (0 when unknown).
        body: the body of a cell magic (ends with a newline), ``None`` for line magics.
    """

    name: str
    args: str
    globals: dict[str, Any]
    locals: Mapping[str, Any]
    filename: str = "<magic>"
    lineno: int = 0
    body: str | None = None

    @classmethod
    def from_frame(
        cls, frame: FrameType | None, name: str, args: str, *, lineno: int = 0,
        body: str | None = None, getters: Mapping[str, Callable[[], object]] | None = None,
    ) -> MagicCall:
        """A call made from ``frame`` (the cell's code), expanding ``args`` with
        ``getters`` (see :func:`lifecycle.ipython_syntax.expand`)."""
        if getters:
            args = expand(args, getters)
        if frame is None:  # pragma: no cover - CPython and Pyodide always have frames
            main = sys.modules["__main__"].__dict__
            return cls(name, args, main, main, lineno=lineno, body=body)
        return cls(
            name, args, frame.f_globals, frame.f_locals, filename=frame.f_code.co_filename,
            lineno=lineno, body=body,
        )

    def namespace(self) -> dict[str, Any]:
        """The globals to run code in: the cell's globals, or (inside a function) a copy
        with the function's locals on top, as IPython's ``%timeit``/``%time`` do."""
        if self.locals is self.globals:
            return self.globals
        merged = dict(self.globals)
        merged.update(self.locals)
        return merged


LineMagic = Callable[[MagicCall], Any]
CellMagic = Callable[[MagicCall], Any]


def in_browser() -> bool:
    """Whether this kernel runs in Pyodide (no subprocesses, no threads)."""
    return sys.platform == "emscripten"


def compile_at(
    source: str, filename: str, lineno: int, col: int = 0, *, mode: str = "exec",
    split_last: bool = False,
) -> tuple[CodeType | None, CodeType | None]:
    """Compile magic code (IPython syntax allowed) as if it stood in the cell at ``lineno``
    (its first line) and column ``col`` (of its first line), so tracebacks point at the
    cell's own lines.

    Args:
        source: the code.
        filename: the cell's file name.
        lineno: the cell line of the code's first line (1-based).
        col: the column of the code's first character on that line.
        mode: ``"exec"`` or ``"eval"``.
        split_last: compile a last expression statement separately (its value is the
            result, as in a cell) unless the code ends with ``;``.

    Returns:
        ``(body, last_expression)``; either may be ``None``.

    Raises:
        SyntaxError: the code does not compile (positions are the cell's).
    """
    rewritten = transform(source)
    try:
        tree = compile(rewritten.code, filename, mode, ast.PyCF_ONLY_AST | _FLAGS, dont_inherit=True)
    except SyntaxError as exc:
        if exc.lineno is not None:
            if exc.lineno == 1 and exc.offset is not None:
                exc.offset += col
            exc.lineno += lineno - 1
            if getattr(exc, "end_lineno", None) is not None:
                exc.end_lineno += lineno - 1  # type: ignore[operator]
        raise
    if isinstance(tree, ast.Module):
        cover_rewritten_lines(tree, source, rewritten)
    if col:
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) == 1:
                node.col_offset += col  # type: ignore[attr-defined]
                if getattr(node, "end_lineno", None) == 1:
                    node.end_col_offset += col  # type: ignore[attr-defined]
    ast.increment_lineno(tree, lineno - 1)
    if mode == "eval":
        return compile(tree, filename, "eval", _FLAGS, dont_inherit=True), None
    assert isinstance(tree, ast.Module)
    body = list(tree.body)
    last = None
    if split_last and body and isinstance(body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = compile(ast.Expression(body.pop().value), filename, "eval", _FLAGS, dont_inherit=True)
    code = compile(ast.Module(body=body, type_ignores=[]), filename, "exec", _FLAGS, dont_inherit=True) if body else None
    return code, last


def show_result(value: Any) -> None:
    """Show ``value`` as the running cell's result (what the kernel does with a cell's last
    expression): formatted by the kernel's ``format_value`` extension, after the cell's
    pending console output.  Outside a running cell it is printed."""
    ctx = context_mod.current_or_none()
    if ctx is None or ctx.cell_id is None:
        print(repr(value))
        return
    format_value = ctx.extensions.get("format_value")
    if format_value is None:
        data: dict[str, Any] = {"text/plain": repr(value)}
        metadata: dict[str, Any] = {}
    else:
        data, metadata = format_value(value, max_bytes=ctx.output_max_bytes)
    flush = ctx.extensions.get("flush_console")
    if flush is not None:
        flush()
    ctx.output(data, metadata, kind="result")
