"""Post-import hooks: run a function right after a module is first imported.

:func:`when_imported` ``(name, callback)`` calls ``callback(module)`` once, as soon as the
module ``name`` has finished executing (its code ran; the importer has not yet received it),
or at once if it is already fully imported.  This is how the kernel adjusts optional libraries
(matplotlib, IPython, Altair, Plotly) without importing them: nothing happens until a cell
imports one.

Mechanism: while at least one callback is pending, one :class:`PostImportFinder` sits first in
``sys.meta_path``.  For a module with pending callbacks it asks the other finders for the
module's spec and wraps the spec's loader, so that ``exec_module`` runs the callbacks right
after the module's code; then it steps aside.  It is removed when no callback is pending.  A
module imported by another route (``importlib.reload``, a loader without ``exec_module``) is
not seen; callbacks of a module that fails to import stay pending for its next import.

A callback that raises is logged (``amphikernel.lifecycle``) and never breaks the user's
import.  Callbacks run in the importing thread, outside this module's lock (they may import).

:class:`SharedHooks` is a set of such callbacks shared by the kernels of a process: registered
by the first kernel, cancelled (those still pending) when the last one ends.

:func:`lazy_exports` gives a package the PEP 562 ``__getattr__``/``__dir__`` that import each
re-exported name from its submodule on first use.
Stdlib only; imports nothing else of lifecycle.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

try:
    # What importlib.abc.Loader is (3.10+), without importlib.abc's own imports
    # (importlib.resources, pathlib, tempfile...: tens of ms of every kernel's start-up).
    from importlib._abc import Loader as _Loader
except ImportError:  # pragma: no cover - an interpreter without the private module
    from importlib.abc import Loader as _Loader

if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["PostImportFinder", "SharedHooks", "is_imported", "lazy_exports", "when_imported"]

log = logging.getLogger("amphikernel.lifecycle")

Callback = Callable[["ModuleType"], None]

_lock = threading.RLock()
_pending: dict[str, list[_Entry]] = {}
_finder: PostImportFinder | None = None


class _Entry:
    """One registered callback (identity matters: cancelling removes this one only)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callback) -> None:
        self.callback = callback


def is_imported(name: str) -> bool:
    """Whether module ``name`` is in ``sys.modules`` and finished executing (not one whose
    import is still in progress)."""
    module = sys.modules.get(name)
    if module is None:
        return False
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


def when_imported(name: str, callback: Callback) -> Callable[[], None]:
    """Call ``callback(module)`` once, right after module ``name`` (a full dotted name) is
    first imported, or now if it already is (:func:`is_imported`).

    Returns:
        A function cancelling the callback if it has not run yet (idempotent; a no-op once
        it ran).
    """
    if is_imported(name):
        _run(name, callback, sys.modules[name])
        return _noop
    entry = _Entry(callback)
    with _lock:
        _pending.setdefault(name, []).append(entry)
        _install_finder()

    def cancel() -> None:
        with _lock:
            entries = _pending.get(name)
            if entries is not None and entry in entries:
                entries.remove(entry)
                if not entries:
                    del _pending[name]
            if not _pending:
                _remove_finder()

    return cancel


class SharedHooks:
    """Post-import callbacks wanted while at least one kernel is alive (reference counted):
    the first :meth:`acquire` registers them with :func:`when_imported`, the last
    :meth:`release` cancels those that have not run.

    Args:
        lock: serialises :meth:`acquire` and :meth:`release` (a new lock by default; pass a
            module's own lock to serialise them with its other state).  It must be
            reentrant if a callback, run at once for a module already imported, takes it.
    """

    def __init__(self, lock: AbstractContextManager[Any] | None = None) -> None:
        self._lock = lock if lock is not None else threading.Lock()
        self._users = 0
        self._cancels: list[Callable[[], None]] = []

    def acquire(self, hooks: Callable[[], Iterable[tuple[str, Callback]]]) -> None:
        """One more user.  The first one registers every ``(module name, callback)`` of
        ``hooks()`` (called only then) with :func:`when_imported`."""
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            for name, callback in hooks():
                self._cancels.append(when_imported(name, callback))

    def release(self) -> None:
        """One user less (extra calls do nothing); the last one cancels the callbacks that
        have not run.  What the callbacks that ran changed stays changed."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                while self._cancels:
                    self._cancels.pop()()


def _noop() -> None:
    return None


def _run(name: str, callback: Callback, module: ModuleType) -> None:
    try:
        callback(module)
    except Exception:
        log.exception("post-import hook %r for %s failed", callback, name)


def _fire(name: str, module: ModuleType) -> None:
    """The module ``name`` finished executing: run (and forget) its pending callbacks."""
    with _lock:
        entries = _pending.pop(name, [])
        if not _pending:
            _remove_finder()
    for entry in entries:
        _run(name, entry.callback, module)


def _install_finder() -> None:
    global _finder
    if _finder is None:
        _finder = PostImportFinder()
        sys.meta_path.insert(0, _finder)


def _remove_finder() -> None:
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None


class _HookedLoader(_Loader):
    """Wraps a module's real loader: runs the pending callbacks right after it executed."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _fire(self._name, module)

    def __getattr__(self, name: str) -> Any:
        if name in ("_inner", "_name"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self._inner, name)


class PostImportFinder:
    """The ``sys.meta_path`` entry that notices the first import of a watched module (see
    the module docstring); it finds nothing itself.  A meta path finder by protocol
    (``find_spec``, ``invalidate_caches``), not a subclass of ``importlib.abc.MetaPathFinder``:
    importing :mod:`importlib.abc` costs every kernel tens of milliseconds of start-up."""

    def invalidate_caches(self) -> None:
        """Nothing cached (``importlib.invalidate_caches`` calls it)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        with _lock:
            if fullname not in _pending:
                return None
        for finder in list(sys.meta_path):
            if isinstance(finder, PostImportFinder):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


def lazy_exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` (PEP 562) of a package whose
    re-exported names are imported from their submodules on first use.

    Use: ``__getattr__, __dir__ = lazy_exports(__name__, {"slider": "inputs", ...})``.

    Args:
        package: the package's ``__name__`` (already in ``sys.modules``).
        homes: exported name -> the submodule (relative to ``package``) defining it.

    Returns:
        ``(__getattr__, __dir__)``.  ``__getattr__(name)`` imports ``package.homes[name]``,
        binds the value in the package (later lookups are plain attribute reads) and returns
        it; it raises :class:`AttributeError` for a name not in ``homes``.  ``__dir__()``
        lists the package's globals and every exported name.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
