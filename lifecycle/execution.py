"""Compiling and running one cell: top-level ``await``, last-expression value, tracebacks.

Cells are compiled once per source (the compiled code is cached by the kernel until the cell
changes), with a file name ``<cell ID>`` that is registered in :mod:`linecache` so tracebacks,
``inspect.getsource`` and ``help()`` see the cell's source.  Tracebacks drop the runtime's own
frames and map the remaining ones to cell id and line.
"""

from __future__ import annotations

import ast
import linecache
import os
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any

from lifecycle import protocol

_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_CELL_PREFIX = "<cell "


def cell_filename(cell_id: str) -> str:
    """The file name a cell's code is compiled with (``<cell ID>``)."""
    return f"{_CELL_PREFIX}{cell_id}>"


def cell_id_from_filename(filename: str) -> str | None:
    """Inverse of :func:`cell_filename`; ``None`` for other files."""
    if filename.startswith(_CELL_PREFIX) and filename.endswith(">"):
        return filename[len(_CELL_PREFIX) : -1]
    return None


@dataclass(slots=True)
class CompiledCell:
    """A cell's code objects: the body, and the last expression when it is displayed."""

    code: str
    body: CodeType | None
    last_expr: CodeType | None
    filename: str


def _ends_with_semicolon(code: str) -> bool:
    """Whether the last token of the cell is ``;`` (Jupyter: suppress the result display)."""
    if ";" not in code:
        return False
    import io
    import tokenize

    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type not in (
                tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER,
                tokenize.DEDENT, tokenize.INDENT,
            ):
                last = tok
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


def register_source(filename: str, code: str) -> None:
    """Make ``code`` visible to :mod:`linecache` under ``filename`` (tracebacks, inspect)."""
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)


def forget_source(filename: str) -> None:
    """Remove a cell's source from :mod:`linecache`."""
    linecache.cache.pop(filename, None)


def _compile_text(filename: str, code: str, tree: ast.Module) -> CompiledCell | None:
    """:func:`compile_cell` from the source text ``tree`` was parsed from (CPython compiles
    text about twice as fast as a Python-level tree).  ``None`` when the split is not a
    plain line split: the displayed last expression does not start a line, or the text has
    carriage-return line ends."""
    nodes = tree.body
    split = bool(nodes) and isinstance(nodes[-1], ast.Expr) and not _ends_with_semicolon(code)
    if not split:
        body = compile(code, filename, "exec", _FLAGS, dont_inherit=True) if nodes else None
        return CompiledCell(code, body, None, filename)
    last = nodes[-1]
    if last.col_offset != 0 or "\r" in code:
        return None
    offset = 0
    for _ in range(last.lineno - 1):
        offset = code.index("\n", offset) + 1
    # Blank lines keep the expression on its own line numbers (tracebacks, positions).
    last_expr = compile("\n" * (last.lineno - 1) + code[offset:], filename, "eval", _FLAGS, dont_inherit=True)
    body = compile(code[:offset], filename, "exec", _FLAGS, dont_inherit=True) if len(nodes) > 1 else None
    return CompiledCell(code, body, last_expr, filename)


def compile_cell(cell_id: str, code: str, tree: ast.Module, *, parsed_from_code: bool = False) -> CompiledCell:
    """Compile a parsed cell.  The last statement, if an expression not followed by ``;``,
    is compiled separately so its value can be displayed.

    ``parsed_from_code``: ``tree`` is exactly ``code`` parsed, unchanged (no IPython-syntax
    rewrite, no position fix-ups): the text itself is compiled, which is faster.

    Raises:
        SyntaxError: errors only the compiler finds (e.g. ``return`` outside a function).
    """
    filename = cell_filename(cell_id)
    register_source(filename, code)
    if parsed_from_code:
        compiled = _compile_text(filename, code, tree)
        if compiled is not None:
            return compiled
    body_nodes = list(tree.body)
    last_expr = None
    if body_nodes and isinstance(body_nodes[-1], ast.Expr) and not _ends_with_semicolon(code):
        expr = ast.Expression(body_nodes.pop().value)  # type: ignore[attr-defined]
        last_expr = compile(expr, filename, "eval", _FLAGS, dont_inherit=True)
    body = None
    if body_nodes:
        module = ast.Module(body=body_nodes, type_ignores=[])
        body = compile(module, filename, "exec", _FLAGS, dont_inherit=True)
    return CompiledCell(code, body, last_expr, filename)


_CO_COROUTINE = 0x0080  # inspect.CO_COROUTINE, without importing inspect


def is_coroutine_code(code: CodeType) -> bool:
    """Whether evaluating ``code`` returns a coroutine (it uses top-level ``await``)."""
    return bool(code.co_flags & _CO_COROUTINE)


async def run_compiled(compiled: CompiledCell, namespace: dict[str, Any]) -> Any:
    """Run a compiled cell in ``namespace``; returns the last expression's value or ``None``.

    Exceptions raised by the cell propagate unchanged.
    """
    if compiled.body is not None:
        result = eval(compiled.body, namespace)
        if is_coroutine_code(compiled.body):
            await result
    if compiled.last_expr is not None:
        value = eval(compiled.last_expr, namespace)
        if is_coroutine_code(compiled.last_expr):
            value = await value
        return value
    return None


def run_compiled_sync(compiled: CompiledCell, namespace: dict[str, Any]) -> Any:
    """Run a compiled cell that uses no top-level ``await`` (fast path, no coroutine)."""
    if compiled.body is not None:
        eval(compiled.body, namespace)
    if compiled.last_expr is not None:
        return eval(compiled.last_expr, namespace)
    return None


def _is_runtime_frame(filename: str) -> bool:
    """Whether a frame's file is part of the lifecycle package (any of its subpackages)."""
    if not filename or filename.startswith("<"):
        return False
    return os.path.abspath(filename).startswith(_RUNTIME_DIR + os.sep)


def _filter(te: Any, seen: set[int]) -> None:
    import traceback

    if id(te) in seen:
        return
    seen.add(id(te))
    frames = [f for f in te.stack if not _is_runtime_frame(f.filename)]
    te.stack = traceback.StackSummary.from_list(frames)
    for nxt in (te.__cause__, te.__context__):
        if nxt is not None:
            _filter(nxt, seen)
    for group_member in getattr(te, "exceptions", None) or ():
        _filter(group_member, seen)


def format_exception(exc: BaseException, tb: TracebackType | None = None) -> protocol.CellError:
    """A ``cell-error`` for ``exc`` (cell id left empty for the caller to fill in).

    The runtime's own frames are removed; frames in cells carry the cell id; the text is
    Python's standard traceback format.
    """
    import traceback

    te = traceback.TracebackException(
        type(exc), exc, tb if tb is not None else exc.__traceback__, compact=True
    )
    _filter(te, set())
    text = "".join(te.format())
    frames = [
        protocol.TracebackFrame(
            filename=f.filename,
            lineno=f.lineno or 0,
            name=f.name,
            line=(f.line or "").strip(),
            cell_id=cell_id_from_filename(f.filename),
        )
        for f in te.stack
    ]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(
            protocol.TracebackFrame(
                filename=exc.filename,
                lineno=exc.lineno or 0,
                name="<module>",
                line=(exc.text or "").strip(),
                cell_id=cell_id_from_filename(exc.filename),
            )
        )
    evalue = str(exc) if not isinstance(exc, SyntaxError) else (exc.msg or str(exc))
    return protocol.CellError(
        cell_id="", ename=type(exc).__name__, evalue=evalue, frames=frames, traceback=text
    )
