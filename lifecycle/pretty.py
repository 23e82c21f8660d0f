"""The ``text/plain`` formatter: IPython-compatible pretty printing.

Notebook users come from Jupyter, where the ``text/plain`` of a result is produced by IPython's
pretty printer (``IPython.lib.pretty``), not by ``repr()``.  This module is an independent
implementation of that printer's *observable behaviour* (no IPython code, no IPython import;
stdlib only, so it runs in Pyodide), so that results look the same as in Jupyter:

* Containers (``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, ``deque``, ``Counter``,
  ``defaultdict``, ``OrderedDict``, ``UserList``, ``mappingproxy``, ``os.environ``) are laid out
  on one line when they fit in ``max_width`` (79) columns, otherwise one item per line.
  Indentation is cumulative per nesting level (1 column for ``[``/``(``/``{``, the length of
  ``Name(`` for call-like forms), not aligned to the opening bracket's column.
* Sets and frozensets are sorted when their items are orderable (else sorted by ``str``, else
  left in iteration order); dicts keep insertion order; empty sets print as ``set()``.
* Sequences longer than ``max_seq_length`` (1000) items end in ``...``.
* Recursive containers print ``[...]``/``{...}``.
* Classes print as ``module.QualName`` (builtins without the module: ``int``), functions as
  ``<function module.name(signature)>``, exceptions as ``module.Name(args)``, regular
  expressions as ``re.compile(r'...', re.FLAGS)``, objects without a ``__repr__`` of their own as
  ``<module.Class at 0x...>``; everything else (str, numbers, namedtuples, dataclasses, dict
  views, ...) uses its ``repr`` (a multi-line repr keeps its line breaks, indented).
* An object whose class (or a base class before any class that defines ``__repr__``) defines
  ``_repr_pretty_(self, p, cycle)`` is printed by that method; ``p`` is a :class:`PrettyPrinter`,
  which offers the interface of IPython's ``RepresentationPrinter`` (``text``, ``breakable``,
  ``break_``, ``pretty``, ``begin_group``/``end_group``, ``group`` and ``indent`` context
  managers, ``max_width``, ``max_seq_length``, ``indentation``, ``output_width``).

The layout engine is a streaming, group-based line breaker (Oppen style): text is buffered
after the first pending break opportunity; when the current line would exceed ``max_width``,
the outermost group that still has pending break opportunities is broken (all its remaining
opportunities become newlines), and so on until the line fits or nothing can be broken.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = [
    "DEFAULT_MAX_SEQ_LENGTH",
    "DEFAULT_MAX_WIDTH",
    "CallExpression",
    "PrettyPrinter",
    "RawText",
    "RepresentationPrinter",
    "pformat",
]

DEFAULT_MAX_WIDTH = 79
"""Line width (characters) Jupyter's ``text/plain`` formatter uses."""

DEFAULT_MAX_SEQ_LENGTH = 1000
"""Items shown per container before ``...`` (IPython's default)."""

_BUILTIN_MODULES = (None, "__builtin__", "builtins", "exceptions")


def pformat(
    obj: Any, max_width: int = DEFAULT_MAX_WIDTH, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH
) -> str:
    """Pretty-print ``obj`` the way Jupyter's ``text/plain`` output shows it.

    Args:
        obj: any object.
        max_width: target line width in characters; lines are only longer when a single
            unbreakable piece (an atom's repr plus adjoining brackets) does not fit.
        max_seq_length: items shown per container before ``...``; ``0`` means no limit.

    Returns:
        The text, without a trailing newline.

    Raises:
        Exception: whatever the object's own ``__repr__`` or ``_repr_pretty_`` raises (callers
            that must not fail, like :func:`lifecycle.display.format_value`, catch it).
    """
    printer = PrettyPrinter(max_width=max_width, max_seq_length=max_seq_length)
    printer.pretty(obj)
    printer.flush()
    return printer.getvalue()


# ---------------------------------------------------------------------------- layout engine


class _Group:
    """A level of nesting; its break opportunities are broken all together or not at all."""

    __slots__ = ("broken", "depth", "pending")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.broken = False
        self.pending: collections.deque[_Break] = collections.deque()


class _Text:
    """Buffered text: a run of strings with their total width."""

    __slots__ = ("parts", "width")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.width = 0

    def emit(self, printer: PrettyPrinter, column: int) -> int:
        printer._chunks.extend(self.parts)
        return column + self.width


class _Break:
    """A buffered break opportunity: ``sep`` if its group stays flat, else a newline."""

    __slots__ = ("group", "indentation", "sep", "width")

    def __init__(self, sep: str, group: _Group, indentation: int) -> None:
        self.sep = sep
        self.width = len(sep)
        self.group = group
        self.indentation = indentation

    def emit(self, printer: PrettyPrinter, column: int) -> int:
        group = self.group
        group.pending.popleft()
        if group.broken:
            printer._chunks.append(printer.newline + " " * self.indentation)
            return self.indentation
        if not group.pending:
            printer._forget(group)
        printer._chunks.append(self.sep)
        return column + self.width


class PrettyPrinter:
    """A pretty printer compatible with IPython's ``RepresentationPrinter`` interface.

    An instance is what ``_repr_pretty_(self, p, cycle)`` receives as ``p``.  Typical use::

        def _repr_pretty_(self, p, cycle):
            if cycle:
                p.text("Point(...)")
                return
            with p.group(6, "Point(", ")"):
                p.pretty(self.x)
                p.text(",")
                p.breakable()
                p.pretty(self.y)

    Args:
        max_width: target line width in characters.
        max_seq_length: items shown per container before ``...`` (``0``: no limit).
        newline: the line separator written at breaks.
        verbose: accepted for compatibility; no effect.

    Attributes:
        output_width: column of the last written character on the current line.
        indentation: the indentation (columns) of the next line break.
        stack: ids of the objects being printed (used for cycle detection).
    """

    def __init__(
        self,
        max_width: int = DEFAULT_MAX_WIDTH,
        *,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        newline: str = "\n",
        verbose: bool = False,
    ) -> None:
        self.max_width = max_width
        self.max_seq_length = max_seq_length
        self.newline = newline
        self.verbose = verbose
        self.output_width = 0
        self.buffer_width = 0
        self.indentation = 0
        self.stack: list[int] = []
        self._chunks: list[str] = []
        self._buffer: collections.deque[_Text | _Break] = collections.deque()
        root = _Group(0)
        self._open: list[_Group] = [root]
        self._levels: list[list[_Group]] = [[root]]

    # -- output ---------------------------------------------------------------------

    def getvalue(self) -> str:
        """Everything written so far (call :meth:`flush` first to include buffered text)."""
        return "".join(self._chunks)

    def text(self, obj: str) -> None:
        """Write ``obj`` (a string without newlines) at the current position."""
        if not isinstance(obj, str):
            obj = str(obj)
        width = len(obj)
        if not self._buffer:
            self._chunks.append(obj)
            self.output_width += width
            return
        last = self._buffer[-1]
        if not isinstance(last, _Text):
            last = _Text()
            self._buffer.append(last)
        last.parts.append(obj)
        last.width += width
        self.buffer_width += width
        self._fit()

    def breakable(self, sep: str = " ") -> None:
        """A break opportunity: ``sep`` if the enclosing group fits on the line, else a newline
        followed by the current indentation."""
        group = self._open[-1]
        if group.broken:
            self._newline()
            return
        brk = _Break(sep, group, self.indentation)
        group.pending.append(brk)
        self._buffer.append(brk)
        self.buffer_width += brk.width
        self._fit()

    def break_(self) -> None:
        """An unconditional line break (at the current indentation).

        It also breaks the outermost group that still has pending break opportunities, so a
        multi-line item forces its container onto several lines, as in IPython.
        """
        group = self._next_group_to_break()
        if group is not None:
            self._break_group(group)
        self._newline()

    def flush(self) -> None:
        """Write out everything buffered (pending break opportunities stay flat)."""
        column = self.output_width
        for item in self._buffer:
            column = item.emit(self, column)
        self._buffer.clear()
        self.output_width = column
        self.buffer_width = 0

    # -- groups ---------------------------------------------------------------------

    def begin_group(self, indent: int = 0, open: str = "") -> None:
        """Open a group: write ``open``, then nest; line breaks inside get ``indent`` more columns.

        Prefer the :meth:`group` context manager.
        """
        if open:
            self.text(open)
        group = _Group(self._open[-1].depth + 1)
        self._open.append(group)
        while len(self._levels) <= group.depth:
            self._levels.append([])
        self._levels[group.depth].append(group)
        self.indentation += indent

    def end_group(self, dedent: int = 0, close: str = "") -> None:
        """Close the innermost group (undoing ``dedent`` columns of indentation), then write
        ``close``."""
        self.indentation -= dedent
        group = self._open.pop()
        if not group.pending:
            self._forget(group)
        if close:
            self.text(close)

    @contextlib.contextmanager
    def group(self, indent: int = 0, open: str = "", close: str = "") -> Iterator[None]:
        """Context manager: ``begin_group(indent, open)`` ... ``end_group(indent, close)``."""
        self.begin_group(indent, open)
        try:
            yield
        finally:
            self.end_group(indent, close)

    @contextlib.contextmanager
    def indent(self, indent: int) -> Iterator[None]:
        """Context manager: line breaks inside get ``indent`` more columns of indentation."""
        self.indentation += indent
        try:
            yield
        finally:
            self.indentation -= indent

    def enumerate_limited(self, seq: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """``enumerate(seq)`` stopping after :attr:`max_seq_length` items, after which it writes
        ``,`` + break opportunity + ``...`` (the container printers' item limit)."""
        for index, item in enumerate(seq):
            if self.max_seq_length and index >= self.max_seq_length:
                self.text(",")
                self.breakable()
                self.text("...")
                return
            yield index, item

    _enumerate = enumerate_limited  # the name IPython's printers (and some user code) use

    # -- objects --------------------------------------------------------------------

    def pretty(self, obj: Any) -> None:
        """Print ``obj`` at the current position, choosing its printer as IPython does.

        Order: the singletons (``None``, ``True``, ...); then, walking the class's MRO, the first
        class that has a built-in printer here, defines ``_repr_pretty_`` or defines
        ``__repr__`` decides; otherwise ``<module.Class at 0x...>``.

        Raises:
            Exception: whatever the object's ``__repr__``/``_repr_pretty_`` raises.
        """
        obj_id = id(obj)
        cycle = obj_id in self.stack
        self.stack.append(obj_id)
        self.begin_group()
        try:
            if obj_id in _SINGLETON_IDS:
                _print_repr(obj, self, cycle)
                return
            cls = _safe_getattr(obj, "__class__", None) or type(obj)
            for klass in _mro(cls):
                printer = _TYPE_PRINTERS.get(klass)
                if printer is not None:
                    printer(obj, self, cycle)
                    return
                namespace = _class_dict(klass)
                if "_repr_pretty_" in namespace:
                    method = klass._repr_pretty_
                    if callable(method):
                        method(obj, self, cycle)
                        return
                if (
                    klass is not object
                    and "__repr__" in namespace
                    and callable(_safe_getattr(klass, "__repr__", None))
                ):
                    _print_repr(obj, self, cycle)
                    return
            _print_default(obj, self, cycle)
        finally:
            self.end_group()
            self.stack.pop()

    # -- engine internals -----------------------------------------------------------

    def _newline(self) -> None:
        self.flush()
        self._chunks.append(self.newline + " " * self.indentation)
        self.output_width = self.indentation
        self.buffer_width = 0

    def _forget(self, group: _Group) -> None:
        """Take ``group`` out of the break queue (no-op when it is not there)."""
        with contextlib.suppress(ValueError, IndexError):
            self._levels[group.depth].remove(group)

    def _next_group_to_break(self) -> _Group | None:
        """Mark and return the group to break: the shallowest level that has a group with
        pending break opportunities, the most recently opened such group of that level.

        Levels passed on the way (no pending opportunities) are cleared, and their groups,
        including still-open ones, marked broken, so their future break opportunities become
        newlines.  Bookkeeping quirk reproduced from IPython for identical layouts: the entry
        removed from the level is the one at the chosen group's position counted from the
        *start* of the level, not necessarily the chosen group itself.
        """
        for level in self._levels:
            count = len(level)
            for offset in range(count):
                group = level[count - 1 - offset]
                if group.pending:
                    del level[offset]
                    group.broken = True
                    return group
            for group in level:
                group.broken = True
            level.clear()
        return None

    def _break_group(self, group: _Group) -> None:
        """Write out the buffer up to ``group``'s last pending break (now newlines) and any
        text right after it."""
        column = self.output_width
        while group.pending:
            item = self._buffer.popleft()
            column = item.emit(self, column)
            self.buffer_width -= item.width
        while self._buffer and isinstance(self._buffer[0], _Text):
            item = self._buffer.popleft()
            column = item.emit(self, column)
            self.buffer_width -= item.width
        self.output_width = column

    def _fit(self) -> None:
        while self.output_width + self.buffer_width > self.max_width:
            group = self._next_group_to_break()
            if group is None:
                return
            self._break_group(group)


RepresentationPrinter = PrettyPrinter
"""Alias under IPython's name, for code written against ``IPython.lib.pretty``."""


# ----------------------------------------------------------------------- helper printables


class RawText:
    """An object whose pretty form is ``text`` verbatim (e.g. ``RawText("...")``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        p.text(self.text)


class CallExpression:
    """Pretty-prints as a call ``name(arg, ..., key=value, ...)``, breaking between arguments
    (continuation lines indented by ``len(name) + 1``).

    Args:
        name: the callee text, e.g. ``"Counter"``.
        args: positional arguments (pretty-printed).
        kwargs: keyword arguments (pretty-printed, in order).
    """

    def __init__(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        prefix = f"{self.name}("
        first = True
        with p.group(len(prefix), prefix, ")"):
            for arg in self.args:
                if not first:
                    p.text(",")
                    p.breakable()
                first = False
                p.pretty(arg)
            for key, value in self.kwargs.items():
                if not first:
                    p.text(",")
                    p.breakable()
                first = False
                with p.group(len(key) + 1, f"{key}="):
                    p.pretty(value)


class _RawStringLiteral:
    """A str/bytes shown as a raw literal (``r'\\d'``), as IPython shows regex patterns."""

    def __init__(self, value: str | bytes) -> None:
        self.value = value

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        p.text("r" + repr(self.value).replace("\\\\", "\\"))


_RE_FLAG_NAMES = ("IGNORECASE", "LOCALE", "MULTILINE", "DOTALL", "UNICODE", "VERBOSE", "DEBUG")


class _ReFlags:
    """``re`` flags as ``re.A|re.B`` (flags IPython does not name, like ASCII, print nothing)."""

    def __init__(self, flags: int) -> None:
        self.flags = flags

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        names = [f"re.{name}" for name in _RE_FLAG_NAMES if self.flags & getattr(re, name)]
        p.text("|".join(names))


# --------------------------------------------------------------------------------- printers

_Printer = Callable[[Any, PrettyPrinter, bool], None]

_SINGLETON_IDS = frozenset(id(s) for s in (None, True, False, Ellipsis, NotImplemented))


def _safe_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """``getattr`` that treats any exception (not only AttributeError) as missing."""
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def _mro(cls: Any) -> tuple[Any, ...]:
    mro = _safe_getattr(cls, "__mro__", None)
    if isinstance(mro, tuple):
        return mro
    return (cls, object)


def _class_dict(klass: Any) -> Any:
    namespace = _safe_getattr(klass, "__dict__", None)
    return namespace if namespace is not None else {}


def _print_repr(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    """``repr(obj)``; a multi-line repr keeps its line breaks, each at the current indentation."""
    lines = repr(obj).splitlines()
    with p.group():
        for index, line in enumerate(lines):
            if index:
                p.break_()
            p.text(line)


def _print_default(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    """Objects without a ``__repr__`` of their own: ``<module.Class at 0x...>``."""
    cls = _safe_getattr(obj, "__class__", None) or type(obj)
    if _safe_getattr(cls, "__repr__", None) is not object.__repr__:
        _print_repr(obj, p, cycle)
        return
    p.begin_group(1, "<")
    p.pretty(cls)
    p.text(f" at 0x{id(obj):x}")
    if cycle:
        p.text(" ...")
    p.end_group(1, ">")


def _items(obj: Any, p: PrettyPrinter, items: Iterable[Any]) -> None:
    for index, item in p.enumerate_limited(items):
        if index:
            p.text(",")
            p.breakable()
        p.pretty(item)


def _sequence_printer(open: str, close: str) -> _Printer:
    def print_sequence(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
        if cycle:
            p.text(f"{open}...{close}")
            return
        with p.group(len(open), open, close):
            _items(obj, p, obj)
            if isinstance(obj, tuple) and len(obj) == 1:
                p.text(",")

    return print_sequence


def _sorted_if_possible(items: Iterable[Any]) -> list[Any]:
    """Sorted items; else sorted by ``str``; else in iteration order."""
    listed = list(items)
    try:
        return sorted(listed)
    except Exception:
        try:
            return sorted(listed, key=str)
        except Exception:
            return listed


def _set_printer(open: str, close: str) -> _Printer:
    def print_set(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
        if cycle:
            p.text(f"{open}...{close}")
            return
        if not obj:
            p.text(f"{type(obj).__name__}()")
            return
        too_long = p.max_seq_length and len(obj) >= p.max_seq_length
        with p.group(len(open), open, close):
            _items(obj, p, obj if too_long else _sorted_if_possible(obj))

    return print_set


def _mapping_printer(open: str, close: str) -> _Printer:
    def print_mapping(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
        if cycle:
            p.text("{...}")
            return
        with p.group(len(open), open, close):
            for index, key in p.enumerate_limited(obj.keys()):
                if index:
                    p.text(",")
                    p.breakable()
                p.pretty(key)
                p.text(": ")
                p.pretty(obj[key])

    return print_mapping


def _qualified_name(obj: Any) -> str:
    name = _safe_getattr(obj, "__qualname__", None)
    if not isinstance(name, str):
        name = _safe_getattr(obj, "__name__", None)
        if not isinstance(name, str):
            name = "<unknown type>"
    return name


def _print_type(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    """Classes: ``module.QualName``, builtins bare (``int``); a metaclass ``__repr__`` wins."""
    defining = next((m for m in _mro(type(obj)) if "__repr__" in _class_dict(m)), None)
    if defining is not type:
        _print_repr(obj, p, cycle)
        return
    name = _qualified_name(obj)
    module = _safe_getattr(obj, "__module__", None)
    p.text(name if module in _BUILTIN_MODULES else f"{module}.{name}")


def _print_function(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    """Functions and builtins: ``<function module.qualname(signature)>``."""
    import inspect  # only functions need it; keeps import of this module light

    name = _safe_getattr(obj, "__qualname__", None) or obj.__name__
    module = _safe_getattr(obj, "__module__", None)
    if module and module not in _BUILTIN_MODULES:
        name = f"{module}.{name}"
    try:
        name += str(inspect.signature(obj))
    except (ValueError, TypeError):
        pass
    p.text(f"<function {name}>")


def _print_exception(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    """Exceptions: ``module.Name(arg, ...)`` (builtins without the module)."""
    cls = obj.__class__
    name = _safe_getattr(cls, "__qualname__", None) or cls.__name__
    module = _safe_getattr(cls, "__module__", None)
    if module not in ("exceptions", "builtins"):
        name = f"{module}.{name}"
    p.pretty(CallExpression(name, *_safe_getattr(obj, "args", ())))


def _print_super(obj: Any, p: PrettyPrinter, cycle: bool) -> None:
    with p.group(8, "<super: ", ">"):
        p.pretty(obj.__thisclass__)
        p.text(",")
        p.breakable()
        p.pretty(obj.__self__)


def _print_pattern(obj: re.Pattern[Any], p: PrettyPrinter, cycle: bool) -> None:
    args: list[Any] = [_RawStringLiteral(obj.pattern)]
    if obj.flags:
        args.append(_ReFlags(obj.flags))
    p.pretty(CallExpression("re.compile", *args))


def _print_defaultdict(
    obj: collections.defaultdict[Any, Any], p: PrettyPrinter, cycle: bool
) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    else:
        p.pretty(CallExpression(name, obj.default_factory, dict(obj)))


def _print_ordereddict(
    obj: collections.OrderedDict[Any, Any], p: PrettyPrinter, cycle: bool
) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj:
        p.pretty(CallExpression(name, list(obj.items())))
    else:
        p.pretty(CallExpression(name))


def _print_deque(obj: collections.deque[Any], p: PrettyPrinter, cycle: bool) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj.maxlen is not None:
        p.pretty(CallExpression(name, list(obj), maxlen=obj.maxlen))
    else:
        p.pretty(CallExpression(name, list(obj)))


def _print_counter(obj: collections.Counter[Any], p: PrettyPrinter, cycle: bool) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj:
        p.pretty(CallExpression(name, dict(obj.most_common())))
    else:
        p.pretty(CallExpression(name))


def _print_userlist(obj: collections.UserList[Any], p: PrettyPrinter, cycle: bool) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    else:
        p.pretty(CallExpression(name, obj.data))


_TYPE_PRINTERS: dict[Any, _Printer] = {
    int: _print_repr,
    float: _print_repr,
    str: _print_repr,
    bytes: _print_repr,
    range: _print_repr,
    slice: _print_repr,
    types.MethodType: _print_repr,
    datetime.datetime: _print_repr,
    datetime.timedelta: _print_repr,
    tuple: _sequence_printer("(", ")"),
    list: _sequence_printer("[", "]"),
    dict: _mapping_printer("{", "}"),
    set: _set_printer("{", "}"),
    frozenset: _set_printer("frozenset({", "})"),
    types.MappingProxyType: _mapping_printer("mappingproxy({", "})"),
    super: _print_super,
    re.Pattern: _print_pattern,
    type: _print_type,
    types.FunctionType: _print_function,
    types.BuiltinFunctionType: _print_function,
    BaseException: _print_exception,
    collections.defaultdict: _print_defaultdict,
    collections.OrderedDict: _print_ordereddict,
    collections.deque: _print_deque,
    collections.Counter: _print_counter,
    collections.UserList: _print_userlist,
}
if type(os.environ) is not dict:
    _TYPE_PRINTERS[type(os.environ)] = _mapping_printer("environ{", "}")
