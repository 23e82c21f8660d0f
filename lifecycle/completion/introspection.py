"""Reading live objects without running user code: class dictionaries, MROs, own ``__dict__``.

Shared by the jedi hardening (:mod:`lifecycle.completion.hardening`), the fallback completer
and signature formatting.  Nothing here calls ``__getattr__``, ``__getattribute__``,
``__dir__``, ``__repr__`` or a descriptor of a user-defined class.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

_MISSING = object()
_BARE = object()  # has only ``object``'s attributes


def _is(obj: object, classes: type | tuple[type, ...]) -> bool:
    """``isinstance`` by the real type only (never reads a user-defined ``__class__``)."""
    return issubclass(type(obj), classes)


def _own_dict(obj: object) -> dict[str, Any] | None:
    """``obj.__dict__`` read through ``object``'s own slot (no class-level override runs)."""
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return d if _is(d, (dict, types.MappingProxyType)) else None


_WRAPPER_DESCRIPTOR = type(object.__getattribute__)
_CLASS_DICT = type.__dict__["__dict__"]
_CLASS_MRO = type.__dict__["__mro__"]
_PURE_BOOL_TYPES = frozenset(
    {
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        bytearray,
        type(None),
        list,
        tuple,
        dict,
        set,
        frozenset,
        range,
    }
)
_SCALAR_TYPES = frozenset({bool, int, float, complex, str, bytes, type(None)})


def _mro(cls: type) -> tuple[type, ...]:
    try:
        return tuple(_CLASS_MRO.__get__(cls))
    except Exception:
        return (cls,)


def _type_lookup(cls: type, name: str) -> object:
    """``name`` from the class dictionaries along ``cls``'s MRO, or :data:`_MISSING`."""
    for klass in _mro(cls):
        value = _CLASS_DICT.__get__(klass).get(name, _MISSING)
        if value is not _MISSING:
            return value
    return _MISSING


def _reads_run_code(obj: object) -> bool:
    """Whether reading an attribute of ``obj`` may run Python code defined outside CPython.

    True when ``type(obj)`` (the metaclass, for a class) defines ``__getattr__`` or a
    Python-level ``__getattribute__``, or ``obj`` is a module with a module ``__getattr__``.
    """
    for klass in _mro(type(obj)):
        class_dict = _CLASS_DICT.__get__(klass)
        for hook in ("__getattr__", "__getattribute__"):
            value = class_dict.get(hook, _MISSING)
            if value is not _MISSING and type(value) is not _WRAPPER_DESCRIPTOR:
                return True
    if _is(obj, types.ModuleType):
        own = _own_dict(obj)
        return own is not None and "__getattr__" in own
    return False


def _statically_has(obj: object, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


def _static_repr(obj: object, depth: int = 0) -> str:
    """A ``repr`` that runs no user-defined ``__repr__`` (containers are walked, 3 levels deep).

    Builtin scalars, classes and functions use their own (C) ``repr``; containers are
    rebuilt from their items; any other object gives ``<module.Class object at 0x...>``.
    """
    kind = type(obj)
    if kind in _SCALAR_TYPES or kind in (range, slice, bytearray, type(...)):
        return repr(obj)
    if _is(obj, type):
        return type.__repr__(obj)  # type: ignore[arg-type]
    if kind in (types.FunctionType, types.BuiltinFunctionType):
        return repr(obj)
    if _is(obj, types.ModuleType):
        name = (_own_dict(obj) or {}).get("__name__")
        return f"<module {name!r}>" if isinstance(name, str) else "<module>"
    if kind in (list, tuple, set, frozenset, dict):
        if depth >= 3 or len(obj) > 20:  # type: ignore[arg-type]
            return {list: "[...]", tuple: "(...)", dict: "{...}"}.get(kind, f"{kind.__name__}(...)")
        if kind is dict:
            items = ", ".join(
                f"{_static_repr(k, depth + 1)}: {_static_repr(v, depth + 1)}"
                for k, v in dict.items(obj)  # type: ignore[arg-type]
            )
            return "{" + items + "}"
        parts = [_static_repr(item, depth + 1) for item in obj]  # type: ignore[attr-defined]
        inner = ", ".join(parts)
        if kind is list:
            return f"[{inner}]"
        if kind is tuple:
            return f"({inner},)" if len(parts) == 1 else f"({inner})"
        if not parts:
            return f"{kind.__name__}()"
        return f"{{{inner}}}" if kind is set else f"frozenset({{{inner}}})"
    return object.__repr__(obj)


def _static_signature(obj: object) -> inspect.Signature:
    """The call signature of ``obj`` from its class's ``__call__`` (``__init__`` for a class).

    Only class dictionaries are read, so no ``__getattr__``/``__getattribute__`` hook runs.

    Raises:
        ValueError: no such method, or one whose signature cannot be read.
    """
    if _is(obj, types.ModuleType):
        raise ValueError("a module has no call signature")
    target = (
        _type_lookup(obj, "__init__") if _is(obj, type) else _type_lookup(type(obj), "__call__")
    )
    drop = 1  # self
    if _is(target, staticmethod):
        target, drop = target.__func__, 0  # type: ignore[union-attr]
    elif _is(target, classmethod):
        target = target.__func__  # type: ignore[union-attr]
    if not _is(
        target,
        (
            types.FunctionType,
            types.BuiltinFunctionType,
            types.WrapperDescriptorType,
            types.MethodDescriptorType,
        ),
    ):
        raise ValueError("no plain __call__/__init__ to read a signature from")
    try:
        signature = inspect.signature(target, follow_wrapped=False)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return signature.replace(parameters=list(signature.parameters.values())[drop:])
