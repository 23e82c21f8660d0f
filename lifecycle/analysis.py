"""Static analysis of one cell: the global names it defines and the ones it references.

Rules (ARCHITECTURE.md, "Reactive semantics"):

* definitions: module-level assignments (incl. augmented, annotated with a value, walrus,
  ``for``/``with`` targets, ``match`` captures), imports, ``def``/``class``, ``type`` aliases,
  names declared ``global`` and assigned inside functions, and ``del`` (a deletion changes the
  binding, so it counts as a write; it is also listed in ``deletes``);
* references: names read at module level before the cell binds them (in execution order), plus
  global names read inside function bodies and lambdas that the cell does not define anywhere
  (those run later, at call time);
* comprehension variables and ``except ... as`` names are local and define nothing.

Python's scoping is followed exactly: function locals are every name bound in the function
body unless declared ``global``/``nonlocal``; class bodies see enclosing function scopes but
their own names are invisible to nested functions.

IPython syntax (``%magic``, ``%%cell magic``, ``!cmd``, ``x = !cmd``, ``obj?``) is rewritten
into plain Python by :mod:`lifecycle.ipython_syntax` before parsing, here and only here: the
tree in :class:`CellAnalysis` (which the kernel compiles) is the rewritten code's, so the
names magics read and bind are in the graph.  The rewrite keeps every line where it was;
:func:`analyze_cell` also points positions on rewritten lines back at the cell's own text
(syntax errors, traceback columns).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Any

from lifecycle.ipython_syntax import (
    MAGIC_NAME,
    cover_rewritten_lines,
    point_at_source,
    transform,
)

__all__ = ["CellAnalysis", "analyze_cell"]


@dataclass(frozen=True, slots=True)
class CellAnalysis:
    """What one cell reads and writes at module level.

    ``error`` is set (and the name sets are empty) when the code does not parse.
    ``star_import`` is true when the cell does ``from m import *`` (its definitions are only
    known after it runs).
    """

    defs: frozenset[str] = frozenset()
    refs: frozenset[str] = frozenset()
    deletes: frozenset[str] = frozenset()
    star_import: bool = False
    error: SyntaxError | None = None
    tree: ast.Module | None = field(default=None, compare=False, repr=False)
    from_source: bool = field(default=False, compare=False, repr=False)
    """``tree`` is the cell's own source parsed, unchanged (no IPython-syntax rewrite): the
    kernel may compile the text instead of the tree."""

    def without_tree(self) -> CellAnalysis:
        """This analysis without its syntax tree (equal to it: ``tree`` is not compared);
        the kernel drops the tree once the cell is compiled."""
        if self.tree is None:
            return self
        return CellAnalysis(self.defs, self.refs, self.deletes, self.star_import, self.error)


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_AST = ast.AST


class _FastVisitor(ast.NodeVisitor):
    """:class:`ast.NodeVisitor` with the method lookup cached per node class, and constants
    skipped (the base class's ``visit_Constant`` looks for deprecated ``visit_Num``-style
    methods on every constant).  Same traversal; about twice as fast on a whole notebook."""

    _methods: dict[type, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}

    def visit(self, node: ast.AST) -> Any:
        cls = node.__class__
        method = self._methods.get(cls)
        if method is None:
            method = getattr(type(self), "visit_" + cls.__name__, None) or type(self).generic_visit
            self._methods[cls] = method
        return method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, _AST):
                        self.visit(item)
            elif isinstance(value, _AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        return None


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _arg_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


class _BindingCollector(_FastVisitor):
    """Names bound directly in one function body (not in nested scopes)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.global_decl: set[str] = set()
        self.nonlocal_decl: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.bound.add(node.id)

    def _scope_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.bound.add(node.name)
        for dec in node.decorator_list:
            self.visit(dec)
        if isinstance(node, ast.ClassDef):
            for base in (*node.bases, *node.keywords):
                self.visit(base)
        else:
            for default in (*node.args.defaults, *node.args.kw_defaults):
                if default is not None:
                    self.visit(default)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope_def  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)

    def _comprehension(self, node: ast.AST) -> None:
        # Only walrus targets escape a comprehension; the first iterable runs outside it.
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.bound.add(sub.target.id)
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bound.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.global_decl.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocal_decl.update(node.names)

    def visit_MatchAs(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if name:
            self.bound.add(name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.AST) -> None:
        rest = getattr(node, "rest", None)
        if rest:
            self.bound.add(rest)
        self.generic_visit(node)


class _Scope:
    __slots__ = ("bound", "global_decl", "kind", "nonlocal_decl", "parent")

    def __init__(
        self,
        kind: str,
        parent: _Scope | None,
        bound: set[str] | None = None,
        global_decl: set[str] | None = None,
        nonlocal_decl: set[str] | None = None,
    ) -> None:
        self.kind = kind  # "module" | "function" | "class" | "comprehension"
        self.parent = parent
        self.bound = bound if bound is not None else set()
        self.global_decl = global_decl or set()
        self.nonlocal_decl = nonlocal_decl or set()


class _CellVisitor(_FastVisitor):
    """Walks a cell in execution order, resolving every name through real Python scopes."""

    def __init__(self) -> None:
        self.module = _Scope("module", None)
        self.scope = self.module
        self.defs: set[str] = set()
        self.refs: set[str] = set()
        self.deferred_refs: set[str] = set()
        self.deletes: set[str] = set()
        self.star_import = False

    # ---- name resolution
    def _load(self, name: str) -> None:
        scope: _Scope | None = self.scope
        deferred = False
        first = True
        while scope is not None:
            if scope.kind == "module":
                if deferred:
                    self.deferred_refs.add(name)
                elif name not in scope.bound:
                    self.refs.add(name)
                return
            if scope.kind == "function":
                if name in scope.global_decl:
                    scope = self.module
                    deferred = True
                    continue
                if name in scope.bound:
                    return
                deferred = True
            elif scope.kind == "class":
                # A class body sees its own names; nested functions do not.
                if first and name in scope.bound:
                    return
            elif name in scope.bound:  # comprehension
                return
            first = False
            scope = scope.parent

    def _store(self, name: str) -> None:
        scope = self.scope
        if scope.kind == "comprehension":  # only walrus stores reach here
            while scope.kind == "comprehension":
                scope = scope.parent  # type: ignore[assignment]
        if scope.kind == "module":
            scope.bound.add(name)
            self.defs.add(name)
            self.deletes.discard(name)
        elif scope.kind == "function" and name in scope.global_decl:
            self.module.bound.add(name)
            self.defs.add(name)
        elif scope.kind != "function":
            scope.bound.add(name)

    def _delete(self, name: str) -> None:
        self._load(name)
        scope = self.scope
        if scope.kind == "module":
            scope.bound.discard(name)
            self.defs.add(name)
            self.deletes.add(name)
        elif scope.kind == "function" and name in scope.global_decl:
            self.defs.add(name)
            self.deletes.add(name)
        else:
            scope.bound.discard(name)

    # ---- nodes
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._store(node.id)
        else:
            self._delete(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._load(node.target.id)
            self.visit(node.value)
            self._store(node.target.id)
        else:
            self.visit(node.target)
            self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        if self.scope.kind in ("module", "class"):
            self.visit(node.annotation)
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._store(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star_import = True
            else:
                self._store(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if not node.name:
            for stmt in node.body:
                self.visit(stmt)
            return
        # The handler's name is a temporary binding, unbound again when the handler ends.
        scope = self.scope
        had = node.name in scope.bound
        was_def = node.name in self.defs
        scope.bound.add(node.name)
        for stmt in node.body:
            self.visit(stmt)
        if scope.kind != "function":
            if not had:
                scope.bound.discard(node.name)
            if not was_def:
                self.defs.discard(node.name)

    def _decorators_and_defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for dec in node.decorator_list:
            self.visit(dec)
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        if self.scope.kind in ("module", "class"):
            for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                if arg.annotation is not None:
                    self.visit(arg.annotation)
            for arg in (node.args.vararg, node.args.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)
            if node.returns is not None:
                self.visit(node.returns)

    def _function_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        collector = _BindingCollector()
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            collector.visit(stmt)
        bound = (collector.bound | _arg_names(node.args)) - collector.global_decl
        bound -= collector.nonlocal_decl
        outer = self.scope
        self.scope = _Scope("function", outer, bound, collector.global_decl, collector.nonlocal_decl)
        try:
            for stmt in body:
                self.visit(stmt)
        finally:
            self.scope = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._decorators_and_defaults(node)
        self._function_body(node)
        self._store(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        self._function_body(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(expr)
        outer = self.scope
        self.scope = _Scope("class", outer)
        try:
            for stmt in node.body:
                self.visit(stmt)
        finally:
            self.scope = outer
        self._store(node.name)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        outer = self.scope
        self.scope = _Scope("comprehension", outer)
        try:
            for i, gen in enumerate(generators):
                if i:
                    self.visit(gen.iter)
                for name_node in ast.walk(gen.target):
                    if isinstance(name_node, ast.Name):
                        self.scope.bound.add(name_node.id)
                    elif not isinstance(name_node, (ast.Tuple, ast.List, ast.Starred, ast.expr_context)):
                        self.visit(name_node)  # subscript/attribute targets read names
                for cond in gen.ifs:
                    self.visit(cond)
            if isinstance(node, ast.DictComp):
                self.visit(node.key)
                self.visit(node.value)
            else:
                self.visit(node.elt)
        finally:
            self.scope = outer

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # type: ignore[assignment]

    def visit_Global(self, node: ast.Global) -> None:  # module-level `global` is a no-op
        return

    def visit_MatchAs(self, node: ast.AST) -> None:
        pattern = getattr(node, "pattern", None)
        if pattern is not None:
            self.visit(pattern)
        name = getattr(node, "name", None)
        if name:
            self._store(name)

    def visit_MatchStar(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if name:
            self._store(name)

    def visit_MatchMapping(self, node: ast.AST) -> None:
        for key in getattr(node, "keys", []):
            self.visit(key)
        for pattern in getattr(node, "patterns", []):
            self.visit(pattern)
        rest = getattr(node, "rest", None)
        if rest:
            self._store(rest)

    def visit_TypeAlias(self, node: ast.AST) -> None:  # Python 3.12 `type X = ...`
        self.visit(node.value)  # type: ignore[attr-defined]
        self._store(node.name.id)  # type: ignore[attr-defined]


def parse_cell(code: str, filename: str = "<cell>") -> ast.Module:
    """Parse a cell, allowing top-level ``await``.

    Raises:
        SyntaxError: the code does not parse.
    """
    return compile(code, filename, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)  # type: ignore[return-value]


def analyze_tree(tree: ast.Module, *, from_source: bool = False) -> CellAnalysis:
    """Definitions and references of a parsed cell (see the module docstring);
    ``from_source`` is recorded in the result (see :attr:`CellAnalysis.from_source`)."""
    visitor = _CellVisitor()
    for stmt in tree.body:
        visitor.visit(stmt)
    defs = frozenset(visitor.defs)
    refs = visitor.refs | (visitor.deferred_refs - visitor.defs)
    return CellAnalysis(
        defs=defs,
        refs=frozenset(refs),
        deletes=frozenset(visitor.deletes),
        star_import=visitor.star_import,
        tree=tree,
        from_source=from_source,
    )


def analyze_cell(code: str, filename: str = "<cell>") -> CellAnalysis:
    """Analyse one cell's source (IPython syntax included, see the module docstring).
    Never raises: a syntax error is returned in ``error``."""
    rewritten = transform(code)
    try:
        tree = parse_cell(rewritten.code, filename)
    except SyntaxError as exc:
        if rewritten.code is not code:
            point_at_source(exc, code, rewritten)
        return CellAnalysis(error=exc)
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        err = SyntaxError(str(exc) or type(exc).__name__)
        err.filename = filename
        return CellAnalysis(error=err)
    if not rewritten.changed:
        return analyze_tree(tree, from_source=rewritten.code == code)
    cover_rewritten_lines(tree, code, rewritten)
    analysis = analyze_tree(tree)
    return replace(analysis, refs=analysis.refs - {MAGIC_NAME})
