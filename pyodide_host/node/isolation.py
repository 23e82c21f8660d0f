"""A fresh kernel in a reused Pyodide process, as if the process were new.

Not a module of the package: :class:`pyodide_host.build.node_harness.NodeHarness` reads this
file and executes it inside Pyodide (as the module ``_amphi_isolation``) so that one Node
process can run many notebooks one after another (the conformance suite, benchmarks) without
one notebook seeing anything another left behind.

:func:`fresh_kernel` stops the session's kernel (its teardown runs), then brings the
interpreter back to the *baseline*: the state right after the first kernel of the process was
stopped, before any notebook ran.  What is snapshotted, compared and restored:

* ``sys.modules``: modules imported since the baseline are dropped (the next import runs them
  afresh, side effects included), replaced entries are put back;
* every baseline module's globals (rebound or deleted names; the contents of globals that are
  lists, dicts or sets, one level deep: ``sys.path``, ``sys.meta_path``,
  ``sys.path_importer_cache``, ``warnings.filters``, ``linecache.cache``, ``copyreg``
  tables...), ``builtins`` and ``sys`` included (``sys.displayhook``, ``sys.stdout``...);
* the attributes of every mutable class bound in a baseline module (monkeypatched methods,
  class-level lists, dicts and sets one level deep);
* process state outside module globals: ``os.environ``, the working directory, the umask,
  the recursion limit, the integer string-conversion limit, the trace and profile functions,
  garbage-collector switch and thresholds, signal handlers, the ``random`` generator state,
  ``logging`` (root and existing loggers' level, handlers, filters, propagation; loggers
  created since are forgotten; ``logging.disable``), the warnings filters' version;
* asyncio tasks still pending on the loop (cancelled) and pending futures (counted);
* the in-memory file system outside mounted host directories (files and directories created
  since are removed; a changed baseline file cannot be restored and is reported).

After restoring, the state is compared with the baseline again: whatever still differs is
returned as *residue* and the caller must not reuse the process (the Node harness then starts
a new one).  ``atexit`` registrations cannot be removed one by one, so a change in their
number is residue too.  Not covered (documented limits): objects nested deeper than one level
inside module or class globals, state held in closures or C extensions (``codecs.register``,
``sys.addaudithook``, functools caches, ABC registries, which hold their classes weakly),
and callbacks scheduled with ``loop.call_later`` (JavaScript timers).

The kernel is restarted with :meth:`pyodide_host.session.Session.start` on the session of
:func:`pyodide_host.session.current_session` (``start_kernel``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import signal
import stat
import sys
import types
from typing import Any

NAME = "_amphi_isolation"
"""The module name this file runs as inside Pyodide (excluded from the snapshot)."""

_SKIPPED_ROOTS = ("/dev", "/proc", "/sys")
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: static and immutable types cannot change
_CONTAINERS = (list, dict, set)

_mounts: list[tuple[str, list[str]]] = []
"""Host directories mounted by :func:`fresh_kernel`: ``(path, directories created for it)``."""
_baseline: Snapshot | None = None


def _copy_container(value: Any) -> Any:
    return type(value)(value)


def _same_container(saved: Any, value: Any) -> bool:
    """Shallow equality by identity: same length, same items (and keys) in the same order."""
    if len(saved) != len(value):
        return False
    if isinstance(saved, dict):
        if saved.keys() != value.keys():
            return False
        return all(value[k] is v for k, v in saved.items())
    if isinstance(saved, set):
        return saved == value
    return all(a is b for a, b in zip(saved, value))


def _restore_container(target: Any, saved: Any) -> None:
    if isinstance(target, (dict, set)):
        target.clear()
        target.update(saved)
    else:
        target[:] = saved


class _Namespace:
    """The attributes of one module (its ``__dict__``) or one class, and the contents of the
    attributes that are lists, dicts or sets."""

    __slots__ = ("containers", "label", "owner", "values")

    def __init__(self, label: str, owner: Any, seen: set[int]) -> None:
        """``seen``: ids of the containers already tracked (by another namespace, or module
        ``__dict__`` objects: each is tracked once)."""
        self.label = label
        self.owner = owner
        attrs = self._attrs()
        self.values = dict(attrs)
        self.containers = {}
        for k, v in attrs.items():
            if owner is sys and k == "modules":
                continue  # compared and restored first, by Snapshot
            if type(v) in _CONTAINERS and id(v) not in seen:
                seen.add(id(v))
                self.containers[k] = (v, _copy_container(v))

    def _attrs(self) -> Any:
        return self.owner.__dict__

    def differences(self) -> list[str]:
        attrs = self._attrs()
        changed = sorted(
            str(k) for k in attrs.keys() | self.values.keys()
            if k not in attrs or k not in self.values or attrs[k] is not self.values[k]
        )  # fmt: skip
        changed += sorted(
            f"{k}[...]" for k, (obj, saved) in self.containers.items() if not _same_container(saved, obj)
        )
        return [f"{self.label}: {', '.join(changed)}"] if changed else []

    def restore(self) -> None:
        attrs = self._attrs()
        is_class = isinstance(self.owner, type)
        for k in [k for k in attrs if k not in self.values]:
            with contextlib.suppress(Exception):
                delattr(self.owner, k) if is_class else attrs.pop(k)
        for k, v in self.values.items():
            if k not in attrs or attrs[k] is not v:
                with contextlib.suppress(Exception):
                    setattr(self.owner, k, v) if is_class else attrs.__setitem__(k, v)
        for obj, saved in self.containers.values():
            if not _same_container(saved, obj):
                with contextlib.suppress(Exception):
                    _restore_container(obj, saved)


def _signals() -> dict[int, Any]:
    out = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(Exception):
            out[int(sig)] = signal.getsignal(sig)
    return out


def _loggers() -> dict[str, tuple[Any, ...]]:
    manager = logging.Logger.manager
    loggers: list[tuple[str, Any]] = [("", logging.root)]
    loggers += [(name, lg) for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)]
    return {
        name: (lg, lg.level, list(lg.handlers), list(lg.filters), lg.propagate, lg.disabled) for name, lg in loggers
    }


def _files() -> dict[str, tuple[int, int, float]]:
    """Every path of the in-memory file system outside mounts: ``(mode, size, mtime)``."""
    out: dict[str, tuple[int, int, float]] = {}
    mounted = {path for path, _ in _mounts}
    for root, dirs, files in os.walk("/"):
        if root in _SKIPPED_ROOTS or root in mounted:
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in mounted]
        for name in dirs + files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                out[path] = (st.st_mode, st.st_size if stat.S_ISREG(st.st_mode) else 0, st.st_mtime)
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _loop_in_progress() -> int | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return getattr(loop, "_in_progress", None)


def _other_tasks() -> set[asyncio.Task[Any]]:
    try:
        current = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not current and not t.done()}
    except RuntimeError:
        return set()


class Snapshot:
    """The interpreter state a notebook could change (see the module docstring)."""

    def __init__(self) -> None:
        gc.collect()
        self.modules = dict(sys.modules)
        self.namespaces: list[_Namespace] = []
        seen_classes: set[int] = set()
        modules = [
            (name, module) for name, module in self.modules.items()
            if name != NAME and isinstance(module, types.ModuleType)
            and isinstance(getattr(module, "__dict__", None), dict)
        ]  # fmt: skip
        seen = {id(vars(module)) for _, module in modules}  # a module's globals: tracked as its namespace
        for name, module in modules:
            self.namespaces.append(_Namespace(f"module {name}", module, seen))
            for value in list(vars(module).values()):
                if (
                    isinstance(value, type)
                    and not value.__flags__ & _IMMUTABLE_TYPE
                    and id(value) not in seen_classes
                ):
                    seen_classes.add(id(value))
                    self.namespaces.append(
                        _ClassNamespace(f"class {value.__module__}.{value.__qualname__}", value, seen)
                    )
        self.environ = dict(os.environ)
        self.cwd = os.getcwd()
        self.umask = _umask()
        self.recursion_limit = sys.getrecursionlimit()
        self.int_max_str_digits = sys.get_int_max_str_digits()
        self.trace, self.profile = sys.gettrace(), sys.getprofile()
        self.gc = (gc.isenabled(), gc.get_threshold())
        self.signals = _signals()
        self.atexit = _atexit_count()
        self.random = random.getstate()
        self.loggers = _loggers()
        self.logging_disable = logging.root.manager.disable
        self.tasks = _other_tasks()
        self.in_progress = _loop_in_progress()
        self.files = _files()

    # ------------------------------------------------------------------ compare
    def differences(self) -> list[str]:
        """What differs from this snapshot now (empty: nothing a notebook could see)."""
        gc.collect()
        out: list[str] = []
        added = sorted(set(sys.modules) - set(self.modules))
        if added:
            out.append(f"sys.modules: added {', '.join(added)}")
        removed = sorted(set(self.modules) - set(sys.modules))
        if removed:
            out.append(f"sys.modules: removed {', '.join(removed)}")
        replaced = sorted(n for n, m in self.modules.items() if n in sys.modules and sys.modules[n] is not m)
        if replaced:
            out.append(f"sys.modules: replaced {', '.join(replaced)}")
        for namespace in self.namespaces:
            out += namespace.differences()
        if dict(os.environ) != self.environ:
            out.append("os.environ")
        checks = [
            ("working directory", os.getcwd(), self.cwd),
            ("umask", _umask(), self.umask),
            ("recursion limit", sys.getrecursionlimit(), self.recursion_limit),
            ("int max str digits", sys.get_int_max_str_digits(), self.int_max_str_digits),
            ("trace function", sys.gettrace(), self.trace),
            ("profile function", sys.getprofile(), self.profile),
            ("gc", (gc.isenabled(), gc.get_threshold()), self.gc),
            ("signal handlers", _signals(), self.signals),
            ("atexit callbacks (cannot be reset)", _atexit_count(), self.atexit),
            ("random state", random.getstate(), self.random),
            ("logging.disable", logging.root.manager.disable, self.logging_disable),
        ]
        out += [what for what, now, then in checks if now != then]
        if _loggers() != self.loggers:
            out.append("logging loggers")
        extra_tasks = _other_tasks() - self.tasks
        if extra_tasks:
            out.append(f"asyncio tasks pending: {len(extra_tasks)}")
        in_progress = _loop_in_progress()
        if in_progress is not None and self.in_progress is not None and in_progress > self.in_progress:
            out.append(f"asyncio futures pending: {in_progress - self.in_progress}")
        files = _files()
        new_files = sorted(set(files) - set(self.files))
        if new_files:
            out.append(f"files created: {', '.join(new_files[:10])}")
        changed_files = sorted(p for p, meta in self.files.items() if files.get(p) != meta and os.path.isfile(p))
        if changed_files:
            out.append(f"files changed (cannot be reset): {', '.join(changed_files[:10])}")
        gone = sorted(p for p in self.files if p not in files)
        if gone:
            out.append(f"files removed (cannot be reset): {', '.join(gone[:10])}")
        return out

    # ------------------------------------------------------------------ restore
    async def restore(self) -> None:
        """Put everything back that can be put back (see :meth:`differences` for the rest)."""
        tasks = _other_tasks() - self.tasks
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        import importlib

        importlib.invalidate_caches()  # first: what it resets is put back to the baseline below
        modules = sys.modules
        for name in [n for n in modules if n not in self.modules]:
            modules.pop(name, None)
        for name, module in self.modules.items():
            if modules.get(name) is not module:
                modules[name] = module
        for namespace in self.namespaces:
            namespace.restore()
        for key in [k for k in os.environ if k not in self.environ]:
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        os.chdir(self.cwd)
        os.umask(self.umask)
        sys.setrecursionlimit(self.recursion_limit)
        sys.set_int_max_str_digits(self.int_max_str_digits)
        sys.settrace(self.trace)
        sys.setprofile(self.profile)
        (gc.enable if self.gc[0] else gc.disable)()
        gc.set_threshold(*self.gc[1])
        now = _signals()
        for sig, handler in self.signals.items():
            if now.get(sig) is not handler and handler is not None:
                with contextlib.suppress(Exception):
                    signal.signal(sig, handler)
        random.setstate(self.random)
        self._restore_logging()
        with contextlib.suppress(Exception):
            import warnings

            warnings._filters_mutated()  # type: ignore[attr-defined]  # per-module registries are stale
        self._restore_files()
        gc.collect()

    def _restore_logging(self) -> None:
        manager = logging.Logger.manager
        for name in [n for n in manager.loggerDict if n and n not in self.loggers]:
            manager.loggerDict.pop(name, None)
        for name, (logger, level, handlers, filters, propagate, disabled) in self.loggers.items():
            if name:
                manager.loggerDict[name] = logger
            logger.level, logger.handlers[:], logger.filters[:] = level, handlers, filters
            logger.propagate, logger.disabled = propagate, disabled
        manager.disable = self.logging_disable
        with contextlib.suppress(Exception):
            manager._clear_cache()  # type: ignore[attr-defined]

    def _restore_files(self) -> None:
        for path in sorted(set(_files()) - set(self.files), key=len, reverse=True):
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)


class _ClassNamespace(_Namespace):
    __slots__ = ()

    def _attrs(self) -> Any:
        return dict(self.owner.__dict__)


def _atexit_count() -> int:
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    return count() if count is not None else 0


# --------------------------------------------------------------------------- the kernel


def _session() -> Any:
    from pyodide_host.session import current_session

    session = current_session()
    if session is None:
        raise RuntimeError("no kernel session in this process (harness started with --no-session?)")
    return session


async def _stop_kernel() -> None:
    session = _session()
    task = session.task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def _mount(path: str) -> None:
    import pyodide_js  # type: ignore[import-not-found]
    from js import Object  # type: ignore[import-not-found]
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    created = []
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        directory = "/" + "/".join(parts[:i])
        if not os.path.isdir(directory):
            os.mkdir(directory)
            created.append(directory)
    fs = pyodide_js.FS
    fs.mount(fs.filesystems.NODEFS, to_js({"root": path}, dict_converter=Object.fromEntries), path)
    _mounts.append((path, created))


def _unmount_all(cwd: str) -> None:
    """Unmount what :func:`_mount` mounted and remove the directories it created (the
    working directory goes back to ``cwd`` first)."""
    import pyodide_js  # type: ignore[import-not-found]

    os.chdir(cwd)
    while _mounts:
        path, created = _mounts.pop()
        with contextlib.suppress(Exception):
            pyodide_js.FS.unmount(path)
        for directory in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


async def fresh_kernel(cwd: str | None = None) -> str:
    """Stop the kernel, bring the process back to the baseline (taken on the first call),
    mount the host directory ``cwd`` at the same path and make it the working directory.

    Returns JSON ``{"changed": [...], "residue": [...]}``: what the previous notebook had
    changed (all of it put back), and what could not be put back (the process must not be
    reused then).  The kernel is not running afterwards: call :func:`start_kernel`.
    """
    global _baseline
    await _stop_kernel()
    changed: list[str] = []
    residue: list[str] = []
    if _baseline is None:
        import js  # type: ignore[import-not-found]  # noqa: F401  # what _mount imports: in the baseline
        import pyodide.ffi  # type: ignore[import-not-found]  # noqa: F401

        _unmount_all(os.getcwd())
        _baseline = Snapshot()
    else:
        _unmount_all(_baseline.cwd)
        changed = _baseline.differences()
        if changed:
            await _baseline.restore()
            residue = _baseline.differences()
    if cwd:
        _mount(cwd)
        os.chdir(cwd)
    return json.dumps({"changed": changed, "residue": residue})


def start_kernel() -> None:
    """Start a kernel on the session (``kernel-ready`` follows)."""
    _session().start()
