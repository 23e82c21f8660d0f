"""The completer used when jedi is not installed (e.g. a bare Pyodide).

It reads ``__dict__``\\ s and class dictionaries only: no ``__dir__``, ``__getattr__``,
``__getattribute__`` or descriptor runs.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import logging
import types
from collections.abc import Iterable, Mapping
from typing import Any

from lifecycle import protocol
from lifecycle.completion.formatting import _is_private, _static_details
from lifecycle.completion.introspection import (
    _CLASS_DICT,
    _MISSING,
    _is,
    _mro,
    _own_dict,
    _type_lookup,
)
from lifecycle.completion.request import (
    _clamp,
    _dotted_path,
    _in_string_or_comment,
    _snapshot,
    _word_start,
)

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package


def fallback_complete(
    code: str, cursor: int, namespace: Mapping[str, Any], *, limit: int = 100
) -> tuple[int, list[protocol.Completion]]:
    """The completer used when jedi is not installed; same contract as :func:`complete`.

    A bare word completes from the namespace, builtins and keywords; ``a.b.c<cursor>``
    completes the attributes of the object reached from the namespace through ``a.b``, read
    statically (no ``__getattr__``, property, descriptor or ``__dir__`` runs; a path through
    a property or a call gives nothing).  Nothing is offered inside a string or a comment.

    Args:
        code: the cell's source.
        cursor: a character offset into ``code``; clamped to ``0..len(code)``.
        namespace: the live globals (copied before use).
        limit: at most this many completions.

    Returns:
        ``(start, completions)`` as in :func:`complete`.  Never raises; on failure
        ``(cursor, [])``.
    """
    try:
        cursor = _clamp(cursor, code)
        ns = _snapshot(namespace)
        if _in_string_or_comment(code[:cursor]):
            return cursor, []
        start = _word_start(code, cursor)
        typed = code[start:cursor]
        if typed[:1].isdigit():
            return cursor, []
        candidates: dict[str, tuple[str, object, bool]] = {}  # name -> (kind, value, bound)
        if start > 0 and code[start - 1] == ".":
            path = _dotted_path(code, start - 1)
            if path is None:
                return cursor, []
            found, obj = _lookup_path(path, ns)
            if not found:
                return cursor, []
            for name in _static_dir(obj):
                if name.startswith(typed):
                    ok, value = _static_lookup(obj, name)
                    if ok:
                        bound = _binds_first_param(obj, name)
                        candidates[name] = (_static_kind(value), value, bound)
                    else:
                        candidates[name] = (_descriptor_kind(obj, name), _MISSING, False)
        else:
            for name in keyword.kwlist:
                if name.startswith(typed):
                    candidates[name] = ("keyword", _MISSING, False)
            for source in (vars(builtins), ns):
                for name, value in source.items():
                    if isinstance(name, str) and name.startswith(typed) and name.isidentifier():
                        candidates[name] = (_static_kind(value), value, False)
        private_last = not typed.startswith("_")
        names = sorted(candidates, key=lambda n: (private_last and _is_private(n), n.lower(), n))
        out: list[protocol.Completion] = []
        for name in names[: max(0, limit)]:
            kind, value, bound = candidates[name]
            signature, doc = ("", "") if value is _MISSING else _static_details(name, value, bound)
            out.append(protocol.Completion(name=name, kind=kind, signature=signature, doc=doc))
        return start, out
    except Exception:
        logger.debug("fallback completion failed at offset %r", cursor, exc_info=True)
        return (max(0, cursor) if isinstance(cursor, int) else 0), []


def _static_lookup(obj: object, name: str) -> tuple[bool, object]:
    """``(found, value)`` for ``obj.name`` without running user code.

    Follows only plain values: entries of the object's own ``__dict__`` (module globals,
    instance attributes) and class-level attributes that are not descriptors; functions,
    ``staticmethod`` and ``classmethod`` give their underlying function.  A property or any
    other descriptor, or an attribute only ``__getattr__`` would provide, is not found.
    """
    try:
        value = inspect.getattr_static(obj, name)
    except AttributeError:
        return False, None
    if _is(value, (staticmethod, classmethod)):
        return True, value.__func__
    if _is(value, (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)):
        return True, value
    if _type_lookup(type(value), "__get__") is not _MISSING:
        # A property, slot, getset or custom descriptor: its value would need a call.
        # Unless it sits directly in the object's own namespace (a module global, an instance
        # attribute), where attribute access returns it as it is.
        own = _own_dict(obj)
        if own is not None and own.get(name, _MISSING) is value and not _is(obj, type):
            return True, value
        return False, None
    return True, value


def _static_dir(obj: object) -> set[str]:
    """Attribute names of ``obj`` like ``dir()``, without calling a custom ``__dir__``."""
    names: set[str] = set()
    own = _own_dict(obj)
    if own is not None:
        names.update(k for k in own if isinstance(k, str))
    if _is(obj, types.ModuleType):
        return names
    for klass in _mro(obj) if _is(obj, type) else _mro(type(obj)):  # type: ignore[arg-type]
        names.update(k for k in _CLASS_DICT.__get__(klass) if isinstance(k, str))
    return names


def _static_kind(obj: object) -> str:
    if _is(obj, types.ModuleType):
        return "module"
    if _is(obj, type):
        return "class"
    if _is(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "function"
    if _is(obj, property):
        return "property"
    return "instance"


def _binds_first_param(obj: object, name: str) -> bool:
    """Whether ``obj.name`` is a bound method (instance method, or classmethod on a class)."""
    if _is(obj, types.ModuleType):
        return False
    if _is(obj, type):
        return _is(_type_lookup(obj, name), classmethod)  # type: ignore[arg-type]
    own = _own_dict(obj)
    if own is not None and name in own:
        return False
    return _is(_type_lookup(type(obj), name), (types.FunctionType, classmethod))


def _descriptor_kind(obj: object, name: str) -> str:
    try:
        return "property" if _is(inspect.getattr_static(obj, name), property) else "instance"
    except AttributeError:
        return "instance"


def _lookup_path(path: Iterable[str], ns: Mapping[str, Any]) -> tuple[bool, object]:
    """Resolve ``a.b.c`` from ``ns`` (then builtins) with :func:`_static_lookup`."""
    parts = list(path)
    head = parts[0]
    if head in ns:
        obj = ns[head]
    elif head in vars(builtins):
        obj = vars(builtins)[head]
    else:
        return False, None
    for part in parts[1:]:
        found, obj = _static_lookup(obj, part)
        if not found:
            return False, None
    return True, obj
