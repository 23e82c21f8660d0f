"""Source-level helpers of the IPython-syntax transformer: physical lines, where logical lines
start, how far an escaped command extends, and the names a piece of code reads and binds.

Everything here is pure (strings and :mod:`ast`), standard library only.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator

_NEWLINE_CHARS = "\r\n"
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def split_lines(code: str) -> list[str]:
    """Physical lines of ``code`` with their endings (``\\n``, ``\\r\\n`` or ``\\r``, exactly
    the line breaks Python's tokenizer counts; form feeds and other Unicode breaks stay
    inside their line).  ``"".join(split_lines(code)) == code``."""
    return io.StringIO(code, newline="").readlines()


def body_of(line: str) -> str:
    """A physical line without its line ending."""
    return line.rstrip(_NEWLINE_CHARS)


def ending_of(line: str) -> str:
    """The line ending of a physical line (``""`` for a last line without one)."""
    return line[len(body_of(line)) :]


def _tokens(text: str) -> Iterator[tokenize.TokenInfo]:
    return tokenize.generate_tokens(io.StringIO(text).readline)


def ends_at_statement_start(text: str) -> bool:
    """Whether a statement can start right after ``text``: it tokenizes completely (no open
    bracket, no unterminated multi-line string, no trailing backslash continuation)."""
    try:
        for _ in _tokens(text):
            pass
    except (tokenize.TokenError, SyntaxError):
        return False
    return True


def continues(line: str) -> bool:
    """Whether an escaped command (``%magic``, ``!cmd``, ``x = %magic``, ``x = !cmd``) continues
    onto the next physical line: ``line`` (one physical line; its ending is ignored) ends with a
    backslash right before the line break.  That is IPython's only continuation for them:
    an open bracket or triple-quoted string does not continue the command, and the lines
    after it are ordinary Python (an indented one is an ``IndentationError``, as in
    IPython)."""
    return body_of(line).endswith("\\")


def last_code_position(text: str) -> tuple[int, int] | None:
    """``(row, col)`` (1-based row, 0-based column) just after the last code token of
    ``text`` (comments and line breaks excluded), or ``None`` when it does not tokenize."""
    last = None
    skip = (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER,
            tokenize.INDENT, tokenize.DEDENT)
    try:
        for tok in _tokens(text):
            if tok.type not in skip:
                last = tok.end
    except (tokenize.TokenError, SyntaxError):
        return None
    return last


def statement_rows(text: str) -> set[int] | None:
    """The 1-based rows on which a logical line (a statement) starts, or ``None`` when the
    text does not tokenize.  Other rows (inside brackets, strings, after a backslash) may be
    re-indented freely... except those inside strings, which this leaves out too."""
    rows: set[int] = set()
    at_start = True
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    try:
        for tok in _tokens(text):
            if tok.type == tokenize.NEWLINE:
                at_start = True
            elif tok.type not in skip and at_start:
                rows.add(tok.start[0])
                at_start = False
    except (tokenize.TokenError, SyntaxError):
        return None
    return rows


def parse(text: str, mode: str = "exec") -> ast.AST | None:
    """Parse ``text`` (top-level ``await`` allowed); ``None`` when it does not parse."""
    try:
        return compile(text, "<magic>", mode, _PARSE_FLAGS, dont_inherit=True)  # type: ignore[no-any-return]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


_COMPOUND = (
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Match,
)
_COMPOUND += tuple(t for t in (getattr(ast, "TryStar", None),) if t is not None)


def is_compound(stmt: ast.stmt) -> bool:
    """Whether a statement is a compound one (it cannot follow ``with ...:`` on one line)."""
    return isinstance(stmt, _COMPOUND)


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def loaded_names(tree: ast.AST) -> list[str]:
    """Every name ``tree`` reads (``x += 1`` reads ``x``), in first-read order."""
    seen: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            seen.setdefault(node.id, None)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            seen.setdefault(node.target.id, None)
    return list(seen)


def free_names(tree: ast.AST) -> list[str]:
    """Names ``tree`` reads that it never binds: its global references when it runs as the
    body of a function (what ``%timeit`` does), in first-read order."""
    bound = _bound_names(tree)
    return [name for name in loaded_names(tree) if name not in bound]


class _ModuleStores(ast.NodeVisitor):
    """Names bound at module level (not inside functions, lambdas, classes, comprehensions)."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.names.setdefault(node.id, None)

    def _scope(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if isinstance(name, str):
            self.names.setdefault(name, None)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def _comprehension(self, node: ast.AST) -> None:
        for sub in ast.walk(node):  # only walrus targets leave a comprehension
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.names.setdefault(sub.target.id, None)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.names.setdefault((alias.asname or alias.name).split(".")[0], None)

    visit_ImportFrom = visit_Import  # type: ignore[assignment]


def module_stores(tree: ast.AST) -> list[str]:
    """Names ``tree`` binds at module level, in order."""
    visitor = _ModuleStores()
    visitor.visit(tree)
    return list(visitor.names)


def indent_statements(text: str) -> tuple[list[str], set[int]]:
    """Indent ``text`` by one space so it can be the block of an ``if`` header, without
    changing any string literal: only rows where a statement starts get the space (other
    rows are inside brackets or strings, or follow a backslash, where indentation means
    nothing, or are blank or comments).  When ``text`` does not tokenize, every non-blank row
    is indented (the parser then reports the error at its row).

    Returns:
        ``(lines, indented)``: the new physical lines and the 1-based rows indented.
    """
    lines = split_lines(text)
    rows = statement_rows(text)
    indented: set[int] = set()
    out: list[str] = []
    for row, line in enumerate(lines, start=1):
        wanted = (row in rows) if rows is not None else bool(body_of(line).strip())
        if wanted:
            out.append(" " + line)
            indented.add(row)
        else:
            out.append(line)
    return out, indented
