"""The per-type printers: containers, classes, functions, exceptions, patterns, collections.

:data:`_TYPE_PRINTERS` maps a type to its printer; :class:`lifecycle.pretty.core.PrettyPrinter`
consults it while walking an object's MRO.  A printer is called as ``printer(obj, p, cycle)``.
"""

from __future__ import annotations

import collections
import datetime
import os
import re
import types
from collections.abc import Callable, Iterable
from typing import Any

from lifecycle.pretty.engine import LayoutPrinter
from lifecycle.pretty.printables import CallExpression, RawText, _RawStringLiteral, _ReFlags

_BUILTIN_MODULES = (None, "__builtin__", "builtins", "exceptions")

_Printer = Callable[[Any, LayoutPrinter, bool], None]

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


def _print_repr(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
    """``repr(obj)``; a multi-line repr keeps its line breaks, each at the current indentation."""
    lines = repr(obj).splitlines()
    with p.group():
        for index, line in enumerate(lines):
            if index:
                p.break_()
            p.text(line)


def _print_default(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
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


def _items(obj: Any, p: LayoutPrinter, items: Iterable[Any]) -> None:
    for index, item in p.enumerate_limited(items):
        if index:
            p.text(",")
            p.breakable()
        p.pretty(item)


def _sequence_printer(open: str, close: str) -> _Printer:
    def print_sequence(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
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
    def print_set(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
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
    def print_mapping(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
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


def _print_type(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
    """Classes: ``module.QualName``, builtins bare (``int``); a metaclass ``__repr__`` wins."""
    defining = next((m for m in _mro(type(obj)) if "__repr__" in _class_dict(m)), None)
    if defining is not type:
        _print_repr(obj, p, cycle)
        return
    name = _qualified_name(obj)
    module = _safe_getattr(obj, "__module__", None)
    p.text(name if module in _BUILTIN_MODULES else f"{module}.{name}")


def _print_function(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
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


def _print_exception(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
    """Exceptions: ``module.Name(arg, ...)`` (builtins without the module)."""
    cls = obj.__class__
    name = _safe_getattr(cls, "__qualname__", None) or cls.__name__
    module = _safe_getattr(cls, "__module__", None)
    if module not in ("exceptions", "builtins"):
        name = f"{module}.{name}"
    p.pretty(CallExpression(name, *_safe_getattr(obj, "args", ())))


def _print_super(obj: Any, p: LayoutPrinter, cycle: bool) -> None:
    with p.group(8, "<super: ", ">"):
        p.pretty(obj.__thisclass__)
        p.text(",")
        p.breakable()
        p.pretty(obj.__self__)


def _print_pattern(obj: re.Pattern[Any], p: LayoutPrinter, cycle: bool) -> None:
    args: list[Any] = [_RawStringLiteral(obj.pattern)]
    if obj.flags:
        args.append(_ReFlags(obj.flags))
    p.pretty(CallExpression("re.compile", *args))


def _print_defaultdict(
    obj: collections.defaultdict[Any, Any], p: LayoutPrinter, cycle: bool
) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    else:
        p.pretty(CallExpression(name, obj.default_factory, dict(obj)))


def _print_ordereddict(
    obj: collections.OrderedDict[Any, Any], p: LayoutPrinter, cycle: bool
) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj:
        p.pretty(CallExpression(name, list(obj.items())))
    else:
        p.pretty(CallExpression(name))


def _print_deque(obj: collections.deque[Any], p: LayoutPrinter, cycle: bool) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj.maxlen is not None:
        p.pretty(CallExpression(name, list(obj), maxlen=obj.maxlen))
    else:
        p.pretty(CallExpression(name, list(obj)))


def _print_counter(obj: collections.Counter[Any], p: LayoutPrinter, cycle: bool) -> None:
    name = type(obj).__name__
    if cycle:
        p.pretty(CallExpression(name, RawText("...")))
    elif obj:
        p.pretty(CallExpression(name, dict(obj.most_common())))
    else:
        p.pretty(CallExpression(name))


def _print_userlist(obj: collections.UserList[Any], p: LayoutPrinter, cycle: bool) -> None:
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
