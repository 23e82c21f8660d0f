"""Closing the places where jedi's "safe" interpreter mode still runs user code.

jedi is always run with ``jedi.settings.allow_unsafe_interpreter_executions = False``
(properties, descriptors and custom ``__getitem__`` are not evaluated), and
:func:`_harden_jedi` closes the places where jedi's safe mode still reads possibly-missing
attributes with ``getattr`` (which runs ``__getattr__``, e.g. ``__wrapped__`` on every live
object), calls ``bool()``, ``iter()``, comparison/arithmetic operators or ``repr()`` on live
objects.  jedi's modules are imported only inside :func:`_harden_jedi`, which
:mod:`lifecycle.completion.jedi_backend` calls once, right after importing jedi.
"""

from __future__ import annotations

import builtins
import logging
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from lifecycle.completion.introspection import (
    _BARE,
    _MISSING,
    _PURE_BOOL_TYPES,
    _SCALAR_TYPES,
    _is,
    _own_dict,
    _reads_run_code,
    _static_repr,
    _static_signature,
    _statically_has,
    _type_lookup,
)

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package


def _harden_jedi() -> None:
    """Close the paths where jedi's "safe" interpreter mode still runs user code.

    With ``allow_unsafe_interpreter_executions = False`` jedi skips properties and custom
    ``__getitem__``, but it still reads attributes that may be missing (``__wrapped__``,
    ``__file__``, ``__call__``, ...) with plain ``getattr`` (which runs ``__getattr__``),
    calls ``bool()``, ``iter()``, operators and ``repr()`` on live objects.  These wrappers
    give jedi the answer a missing attribute or an unknown value would give.  They act only
    while the inference state is in safe mode (``repr``: only on a thread inside
    :func:`complete`), so another jedi user in the process that enables unsafe executions
    keeps jedi's behaviour; the one unconditional change is that unwrapping an object to find
    its source follows ``__wrapped__`` through ``__dict__`` and uses ``type(obj)``, not
    ``obj.__class__``.  Each patch is skipped when this jedi version lacks its target (the
    tests then show which protection is missing).  Called once, with jedi's lock held.
    """
    try:
        from jedi.inference.compiled import access, mixed
    except Exception:
        logger.debug("completion: jedi internals not found, not hardened", exc_info=True)
        return
    cls = getattr(access, "DirectObjectAccess", None)

    def wrap(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name, None)
        if original is None or getattr(original, "_amphi_hardened", False):
            if original is None:
                logger.debug("completion: jedi has no %s.%s", owner, name)
            return
        patched = make(original)
        patched._amphi_hardened = True
        setattr(owner, name, patched)

    def safe_mode(self: Any) -> bool:
        state = getattr(self, "_inference_state", None)
        return not getattr(state, "allow_unsafe_executions", False)

    # Finding an object's source: unwrap through __dict__ only, never ``obj.__class__``.
    def make_object_to_check(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def object_to_check(python_object: Any) -> Any:
            seen: set[int] = set()
            while id(python_object) not in seen:
                seen.add(id(python_object))
                own = _own_dict(python_object)
                wrapped = _MISSING if own is None else own.get("__wrapped__", _MISSING)
                if wrapped is _MISSING:
                    break
                python_object = wrapped
            if _is(
                python_object,
                (
                    types.ModuleType,
                    type,
                    types.MethodType,
                    types.FunctionType,
                    types.TracebackType,
                    types.FrameType,
                    types.CodeType,
                ),
            ):
                return python_object
            return type(python_object)

        return object_to_check

    def make_find_source(original: Callable[..., Any]) -> Callable[..., Any]:
        def find_source(inference_state: Any, python_object: Any) -> Any:
            if not getattr(inference_state, "allow_unsafe_executions", False):
                target = mixed._get_object_to_check(python_object)
                if _reads_run_code(target):
                    return None  # introspect it as a compiled object instead
            return original(inference_state, python_object)

        return find_source

    wrap(mixed, "_get_object_to_check", make_object_to_check)
    wrap(mixed, "_find_syntax_node_name", make_find_source)
    if cls is None:
        logger.debug("completion: jedi has no DirectObjectAccess, partly hardened")
        return

    def make_bool(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def py__bool__(self: Any) -> Any:
            if safe_mode(self) and type(self._obj) not in _PURE_BOOL_TYPES:
                return None  # "unknown truth value"
            return original(self)

        return py__bool__

    def make_operation(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_operation(self: Any, other_access_handle: Any, operator: str) -> Any:
            if safe_mode(self):
                other = getattr(getattr(other_access_handle, "access", None), "_obj", _MISSING)
                if type(self._obj) not in _SCALAR_TYPES or type(other) not in _SCALAR_TYPES:
                    raise TypeError("operation on a live object skipped")
            return original(self, other_access_handle, operator)

        return execute_operation

    def make_has_iter(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def has_iter(self: Any) -> bool:
            if safe_mode(self) and type(self._obj) not in _PURE_BOOL_TYPES:
                cls_ = type(self._obj)
                return (
                    _type_lookup(cls_, "__iter__") is not _MISSING
                    or _type_lookup(cls_, "__getitem__") is not _MISSING
                )
            return original(self)

        return has_iter

    def make_getattr_paths(original: Callable[..., Any]) -> Callable[..., Any]:
        def getattr_paths(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            if (
                safe_mode(self)
                and _reads_run_code(self._obj)
                and not _statically_has(self._obj, name)
            ):
                # Same lookup on a bare object, which lacks every attribute ``self._obj``
                # lacks: AttributeError, or the default path, with no hook run.
                self = type(self)(self._inference_state, _BARE)
            return original(self, name, *args, **kwargs)

        return getattr_paths

    def make_needs(attr: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Answer ``None`` ("not there") when ``attr`` is only reachable through a hook."""

        def make(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def guarded(self: Any) -> Any:
                if (
                    safe_mode(self)
                    and _reads_run_code(self._obj)
                    and not _statically_has(self._obj, attr)
                ):
                    return None
                return original(self)

            return guarded

        return make

    def make_signature(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def _get_signature(self: Any) -> Any:
            if safe_mode(self) and _reads_run_code(self._obj):
                return _static_signature(self._obj)
            return original(self)

        return _get_signature

    def make_qualified_names(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def get_qualified_names(self: Any) -> Any:
            obj = self._obj
            if safe_mode(self) and _reads_run_code(obj) and not _is(obj, (type, types.ModuleType)):
                name = _type_lookup(type(obj), "__qualname__")
                return tuple(name.split(".")) if isinstance(name, str) else ()
            return original(self)

        return get_qualified_names

    def make_objects_path(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def _get_objects_path(self: Any) -> Any:
            obj = self._obj
            if safe_mode(self) and _reads_run_code(obj):
                if _is(obj, types.ModuleType):
                    return [obj]
                owner = obj if _is(obj, type) else type(obj)
                module_name = _type_lookup(owner, "__module__")
                module = sys.modules.get(module_name) if isinstance(module_name, str) else None
                return [module if module is not None else builtins, obj]
            return original(self)

        return _get_objects_path

    wrap(cls, "py__bool__", make_bool)
    wrap(cls, "execute_operation", make_operation)
    wrap(cls, "has_iter", make_has_iter)
    wrap(cls, "getattr_paths", make_getattr_paths)
    wrap(cls, "py__getitem__all_values", make_needs("__getitem__"))
    wrap(cls, "py__iter__list", make_needs("__iter__"))
    wrap(cls, "py__file__", make_needs("__file__"))
    wrap(cls, "py__path__", make_needs("__path__"))
    wrap(cls, "get_return_annotation", make_needs("__annotations__"))
    wrap(cls, "_get_signature", make_signature)
    wrap(cls, "get_qualified_names", make_qualified_names)
    wrap(cls, "_get_objects_path", make_objects_path)
    # ``repr`` of live objects (parameter defaults, module reprs): access.py looks the name up
    # in its globals first, so a module-level ``repr`` there takes over while we complete.
    if getattr(access, "repr", None) is None:
        access.repr = _guarded_repr


_completing = threading.local()
"""``active`` is true on a thread while it runs a jedi completion for this module."""


def _guarded_repr(obj: object) -> str:
    """``repr`` inside jedi: :func:`_static_repr` while completing, the builtin otherwise."""
    if getattr(_completing, "active", False):
        return _static_repr(obj)
    return repr(obj)
