"""Code completion for notebook cells, computed without running user code.

Entry points:

* :func:`complete` -- ``(start, completions)`` for a cursor (character offset) in a cell's code,
  using ``jedi.Interpreter`` against the live globals, or a small built-in completer when jedi
  is not installed (e.g. a bare Pyodide).
* :func:`answer` -- the same, wrapped as the protocol's ``completion-result`` notification; for
  hosts without threads (Pyodide) that answer ``complete`` commands inline.
* :class:`CompletionWorker` -- a daemon thread that answers ``complete`` commands off the
  kernel's main thread, so a running cell never delays them; when several requests wait, only
  the newest is answered and the others get an empty result.
* :func:`warm_up` -- import jedi and fill its caches ahead of the first real request.

Offsets are Python ``str`` indices (Unicode code points) into the cell's code.

No user code runs.  jedi is imported lazily and always run with
``jedi.settings.allow_unsafe_interpreter_executions = False`` (properties, descriptors and
custom ``__getitem__`` are not evaluated), and :func:`_harden_jedi` closes the places where
jedi's safe mode still reads possibly-missing attributes with ``getattr`` (which runs
``__getattr__``, e.g. ``__wrapped__`` on every live object), calls ``bool()``, ``iter()``,
comparison/arithmetic operators or ``repr()`` on live objects.  What remains (documented, not
reachable from ordinary objects): jedi calls ``dir()`` (a custom ``__dir__`` runs), reads
``__class__`` (a ``__getattribute__`` override runs), asks a class's *metaclass* for
``__get__`` via :mod:`inspect`, and may import an extension module that has no Python source in
order to introspect it.  The fallback completer reads ``__dict__``\\ s and class dictionaries
only: no ``__dir__``, ``__getattr__``, ``__getattribute__`` or descriptor runs.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import logging
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lifecycle import protocol

__all__ = [
    "CompletionWorker",
    "answer",
    "complete",
    "fallback_complete",
    "warm_up",
]

logger = logging.getLogger(__name__)

DOC_MAX_CHARS = 200
"""A completion's ``doc`` is the first non-empty docstring line, cut to this many characters."""

DETAIL_ALWAYS = 8
"""The first this many completions always carry their signature and docstring line."""

DETAIL_BUDGET_S = 0.05
"""Past :data:`DETAIL_ALWAYS`, signatures and docstrings are fetched (in list order) only while
fetching details has taken less than this many seconds; later items get neither, so a large
result stays fast."""

_SNAPSHOT_ATTEMPTS = 5
_WORKER_THREAD_NAME = "amphi-completion"

# jedi is shared process-wide (parser and inference caches); one request at a time uses it.
_jedi_lock = threading.Lock()
_jedi_module: Any = None
_jedi_checked = False


def _load_jedi() -> Any:
    """The ``jedi`` module, imported (and hardened) on first use, or ``None`` without jedi."""
    global _jedi_module, _jedi_checked
    if not _jedi_checked:
        with _jedi_lock:
            if not _jedi_checked:
                try:
                    import jedi
                except Exception as exc:  # ImportError, or a broken install
                    logger.debug("jedi unavailable, using the fallback completer: %r", exc)
                    jedi = None
                else:
                    _harden_jedi()
                _jedi_module = jedi
                _jedi_checked = True
    return _jedi_module


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


# --------------------------------------------------------------------------- helpers


def _clamp(cursor: int, code: str) -> int:
    """``cursor`` limited to ``0..len(code)``, moved off the middle of a ``\\r\\n`` pair."""
    cursor = max(0, min(int(cursor), len(code)))
    if 0 < cursor < len(code) and code[cursor - 1] == "\r" and code[cursor] == "\n":
        cursor -= 1
    return cursor


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_column(code: str, cursor: int) -> tuple[int, int]:
    """Jedi's position for a character offset: 1-based line, 0-based column in code points.

    Lines break at ``\\n``, ``\\r\\n`` and a lone ``\\r`` (as in parso); ``cursor`` must already
    be clamped by :func:`_clamp`.
    """
    line = 1
    line_start = 0
    for match in _LINE_BREAK.finditer(code, 0, cursor):
        line += 1
        line_start = match.end()
    return line, cursor - line_start


def _snapshot(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``namespace`` without non-``str`` keys, retried while another thread
    changes it.

    ``dict(namespace)`` raises ``RuntimeError`` ("changed size during iteration") when the
    mapping is resized mid-copy, and a mapping that copies key by key (``UserDict``...) can
    raise ``KeyError`` for a key deleted meanwhile.

    Raises:
        RuntimeError, KeyError: the mapping kept changing during every attempt.
    """
    for attempt in range(_SNAPSHOT_ATTEMPTS):
        try:
            snapshot = dict(namespace)
            break
        except (RuntimeError, KeyError):
            if attempt == _SNAPSHOT_ATTEMPTS - 1:
                raise
            time.sleep(0)  # let the mutating thread run
    if not all(type(key) is str for key in snapshot):
        snapshot = {k: v for k, v in snapshot.items() if type(k) is str}
    return snapshot


def _first_doc_line(doc: object) -> str:
    """The first non-empty line of a docstring, stripped and cut to :data:`DOC_MAX_CHARS`."""
    if not isinstance(doc, str):
        return ""
    for line in doc.splitlines():
        line = line.strip()
        if line:
            if len(line) > DOC_MAX_CHARS:
                return line[: DOC_MAX_CHARS - 1] + "\u2026"
            return line
    return ""


def _is_private(name: str) -> bool:
    return name.startswith("_")


# ------------------------------------------------------------------------- public API


def complete(
    code: str, cursor: int, namespace: Mapping[str, Any], *, limit: int = 100
) -> tuple[int, list[protocol.Completion]]:
    """Completions for the word at ``cursor`` in ``code``.

    Args:
        code: the cell's source.
        cursor: a character offset (code points) into ``code``; values outside
            ``0..len(code)`` are clamped.
        namespace: the live globals (name -> object).  A shallow copy is taken, so another
            thread may keep mutating it.  Nothing in it is called or has its properties read.
        limit: at most this many completions are returned.

    Returns:
        ``(start, completions)``: ``start`` is the offset where the word being completed
        begins (replace ``code[start:cursor]`` with a completion's ``name``); public names come
        before ``_private`` ones unless the typed prefix starts with ``_``.  When jedi is not
        installed, :func:`fallback_complete` answers instead.

    Never raises: on any failure (including unexpected argument types) it logs at debug level
    and returns ``(cursor, [])`` with ``cursor`` clamped when possible.
    """
    started = time.perf_counter()
    try:
        cursor = _clamp(cursor, code)
    except Exception:
        logger.debug("completion: bad arguments", exc_info=True)
        return (max(0, cursor) if isinstance(cursor, int) else 0), []
    try:
        ns = _snapshot(namespace)
        jedi = _load_jedi()
        if jedi is None:
            return fallback_complete(code, cursor, ns, limit=limit)
        return _jedi_complete(jedi, code, cursor, ns, limit, started)
    except Exception:
        logger.debug("completion failed at offset %d", cursor, exc_info=True)
        return cursor, []


def _jedi_complete(
    jedi: Any, code: str, cursor: int, ns: dict[str, Any], limit: int, started: float
) -> tuple[int, list[protocol.Completion]]:
    """jedi's completions at ``cursor`` (clamped), with details per :data:`DETAIL_ALWAYS`."""
    with _jedi_lock:
        _completing.active = True
        try:
            return _jedi_complete_locked(jedi, code, cursor, ns, limit, started)
        finally:
            _completing.active = False


def _jedi_complete_locked(
    jedi: Any, code: str, cursor: int, ns: dict[str, Any], limit: int, started: float
) -> tuple[int, list[protocol.Completion]]:
    line, column = _line_column(code, cursor)
    # Read by Interpreter.__init__; set every time in case anything else flipped it.
    jedi.settings.allow_unsafe_interpreter_executions = False
    script = jedi.Interpreter(code, [ns])
    found = script.complete(line, column)
    if not found:
        return cursor, []
    prefix_lengths = [c.get_completion_prefix_length() for c in found]
    start = cursor - max(prefix_lengths)
    typed = code[start:cursor]
    # Order on names first (cheap), then fetch details for the kept items only.
    indexed = list(range(len(found)))
    if not typed.startswith("_"):
        indexed.sort(key=lambda i: _is_private(found[i].name))
    deadline = time.perf_counter() + DETAIL_BUDGET_S
    out: list[protocol.Completion] = []
    for rank, i in enumerate(indexed[: max(0, limit)]):
        c = found[i]
        # A completion with a shorter typed prefix than the others keeps the extra
        # characters, so replacing code[start:cursor] with its name stays correct.
        name = code[start : cursor - prefix_lengths[i]] + c.name
        kind = c.type or ""
        signature = doc = ""
        if rank < DETAIL_ALWAYS or time.perf_counter() < deadline:
            signature, doc = _jedi_details(c, kind)
        out.append(protocol.Completion(name=name, kind=kind, signature=signature, doc=doc))
    return start, out


def _jedi_details(c: Any, kind: str) -> tuple[str, str]:
    """``(signature, doc)`` of one jedi completion; ``""`` for whatever jedi cannot give."""
    signature = doc = ""
    try:
        if kind in ("function", "class"):
            sigs = c.get_signatures()
            if sigs:
                signature = sigs[0].to_string()
        doc = _first_doc_line(c.docstring(raw=True))
    except Exception:
        logger.debug("completion details failed for %r", c, exc_info=True)
    return signature, doc


def answer(cmd: protocol.Complete, namespace: Mapping[str, Any]) -> protocol.CompletionResult:
    """Answer a ``complete`` command inline (hosts without threads, e.g. Pyodide).

    Args:
        cmd: the command; ``cmd.cursor`` is a character offset into ``cmd.code``.
        namespace: the kernel's globals (copied, never called into).

    Returns:
        The ``completion-result`` notification for ``cmd.request_id``.  Never raises; a failure
        gives an empty result.
    """
    start, completions = complete(cmd.code, cmd.cursor, namespace)
    return protocol.CompletionResult(
        request_id=cmd.request_id, completions=completions, start=start
    )


def warm_up() -> bool:
    """Import jedi and run one small completion so the first real request is fast.

    Safe to call from any thread (e.g. a background thread at kernel start), any number of
    times.

    Returns:
        ``True`` when jedi is available and answered, ``False`` otherwise.  Never raises.
    """
    try:
        jedi = _load_jedi()
        if jedi is None:
            return False
        # A global (loads the builtins stubs) and an attribute of a live module.
        _jedi_complete(jedi, "war", 3, {"warm_up": warm_up}, 100, time.perf_counter())
        _jedi_complete(jedi, "sys.pa", 6, {"sys": sys}, 100, time.perf_counter())
        return True
    except Exception:
        logger.debug("completion warm-up failed", exc_info=True)
        return False


# ---------------------------------------------------------------- fallback completer


def _is_ident_char(ch: str) -> bool:
    return ("a" + ch).isidentifier()


def _in_string_or_comment(text: str) -> bool:
    """Whether the end of ``text`` (code up to the cursor) is inside a string or a comment.

    A light scan: quotes (single, triple, with backslash escapes; prefixes are irrelevant)
    and ``#`` comments.  Good enough to keep the fallback from completing inside literals.
    """
    i = 0
    n = len(text)
    quote = ""  # the open string's delimiter: ' " ''' or """
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            if ch in "\r\n" and len(quote) == 1:
                quote = ""  # unterminated single-line string ends at the line break
            i += 1
            continue
        if ch == "#":
            match = _LINE_BREAK.search(text, i)
            if match is None:
                return True
            i = match.end()
            continue
        if ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        i += 1
    return bool(quote)


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


def _static_details(name: str, obj: object, bound: bool = False) -> tuple[str, str]:
    """``(signature, doc)`` for plain functions, classes and modules; ``""`` otherwise.

    ``bound``: ``obj`` is reached as a method, so its first parameter is not shown.
    """
    signature = doc = ""
    try:
        if _is(obj, (types.FunctionType, types.BuiltinFunctionType)):
            sig = inspect.signature(obj, follow_wrapped=False)
            if bound:
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            signature = name + _format_signature(sig)
            doc = _first_doc_line(obj.__doc__)
        elif _is(obj, (type, types.ModuleType)):
            doc = _first_doc_line((_own_dict(obj) or {}).get("__doc__"))
    except Exception:
        pass
    return signature, doc


class _Shown:
    """Stands in for a default value or annotation: its ``repr`` is fixed text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _format_signature(signature: inspect.Signature) -> str:
    """``str(signature)`` with defaults and odd annotations shown by :func:`_static_repr`."""

    def shown(value: object) -> object:
        if value is inspect.Parameter.empty or _is(value, (str, type, types.GenericAlias)):
            return value
        return _Shown(_static_repr(value))

    params = [
        p.replace(default=shown(p.default), annotation=shown(p.annotation))
        for p in signature.parameters.values()
    ]
    return str(
        signature.replace(parameters=params, return_annotation=shown(signature.return_annotation))
    )


def _word_start(code: str, cursor: int) -> int:
    start = cursor
    while start > 0 and _is_ident_char(code[start - 1]):
        start -= 1
    return start


def _dotted_path(code: str, dot: int) -> list[str] | None:
    """The names of ``a.b`` in ``a.b.<cursor>``, given the offset of the last dot.

    ``None`` when what precedes the dot is not a plain dotted name (a call, a subscript, a
    literal, ...).
    """
    parts: list[str] = []
    end = dot
    while True:
        begin = _word_start(code, end)
        part = code[begin:end]
        if not part.isidentifier() or keyword.iskeyword(part):
            return None
        parts.append(part)
        if begin > 0 and code[begin - 1] == ".":
            end = begin - 1
            continue
        if begin > 0 and code[begin - 1] in ")]}'\"":
            return None
        return parts[::-1]


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


# --------------------------------------------------------------------------- worker


class CompletionWorker:
    """Answers ``complete`` commands on a daemon thread named ``amphi-completion``.

    Args:
        emit: called (on the worker thread) with each ``protocol.CompletionResult``; must be
            thread-safe.  An exception from it is logged and the worker goes on.
        get_namespace: called on the worker thread for each answered request; returns the
            kernel's globals (copied before jedi sees them).  An exception gives that request
            an empty result.
        warm: run :func:`warm_up` on the thread before serving the first request.

    Every submitted request gets exactly one ``CompletionResult``: when several are waiting,
    only the newest is answered and the older ones get an empty result with their
    ``request_id``; requests pending at :meth:`close`, or submitted after it, get an empty
    result too.

    Raises:
        RuntimeError: the platform cannot start threads (Pyodide); use :func:`answer` there.
    """

    def __init__(
        self,
        emit: Callable[[object], None],
        get_namespace: Callable[[], Mapping[str, Any]],
        *,
        warm: bool = True,
    ) -> None:
        self._emit = emit
        self._get_namespace = get_namespace
        self._warm = warm
        self._cond = threading.Condition()
        self._pending: list[protocol.Complete] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=_WORKER_THREAD_NAME, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        """The worker thread."""
        return self._thread

    def submit(self, cmd: protocol.Complete) -> None:
        """Queue ``cmd`` for an answer; returns at once.  Thread-safe.

        After :meth:`close`, ``cmd`` is answered with an empty result from the calling thread.
        """
        with self._cond:
            if not self._closed:
                self._pending.append(cmd)
                self._cond.notify()
                return
        self._send(_empty(cmd))

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the worker and join its thread (at most ``timeout`` seconds).  Idempotent.

        Requests still waiting get empty results.  A completion already being computed is
        finished and sent first.  Called from the worker thread itself (e.g. inside ``emit``),
        it stops the worker without joining.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._warm:
            warm_up()
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                closed = self._closed
            if closed:
                for cmd in batch:
                    self._send(_empty(cmd))
                return
            *superseded, newest = batch
            for cmd in superseded:
                self._send(_empty(cmd))
            self._send(self._answer(newest))

    def _answer(self, cmd: protocol.Complete) -> protocol.CompletionResult:
        try:
            namespace = self._get_namespace()
        except Exception:
            logger.debug("completion: get_namespace failed", exc_info=True)
            return _empty(cmd)
        return answer(cmd, namespace)

    def _send(self, result: protocol.CompletionResult) -> None:
        try:
            self._emit(result)
        except Exception:
            logger.debug("completion: emit failed for %s", result.request_id, exc_info=True)


def _empty(cmd: protocol.Complete) -> protocol.CompletionResult:
    """An empty answer to ``cmd`` (``start`` is its clamped cursor)."""
    try:
        start = _clamp(cmd.cursor, cmd.code)
    except Exception:
        start = 0
    return protocol.CompletionResult(request_id=cmd.request_id, completions=[], start=start)
