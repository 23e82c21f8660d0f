"""``"thread-local"`` mode (thread hosts: many kernels, one thread each, in one process).

Routing proxies are installed once per process as ``sys.stdout``/``sys.stderr``
(reference counted, see :func:`install_thread_local_proxies`).  Each write goes to the cell
registered by the writing thread and falls through to the original stream otherwise.
Threads started while a cell runs inherit its registration (``threading.Thread.start`` is
wrapped while the proxies are installed).

The proxies (:class:`_RoutingStream`) and their reference-counted installation are
process-wide state of this module; :class:`_ThreadLocalConsole` registers its cell with them.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from lifecycle.streams.buffer import _Cell, _CellWriter, _type_error
from lifecycle.streams.console import ConsoleMode, Sink
from lifecycle.streams.threaded import _ThreadedConsole

_log = logging.getLogger("lifecycle.streams")  # one logger for the whole package


class _RoutingStream(threading.local):
    """Process-wide ``sys.stdout``/``sys.stderr`` proxy of thread-local mode.

    A :class:`threading.local`, so its attributes are per thread: a thread running a cell has
    ``write``, ``buffer``, ``encoding`` and ``errors`` of the cell's writer in its own view of
    the proxy (``print`` then calls the cell writer's ``write`` directly, no extra frame);
    any other thread sees the class's methods, which fall through to ``original`` (the
    stream in place when the proxies were installed).
    """

    _writer: _CellWriter | None = None

    def __init__(self, original: Any) -> None:  # runs again in each thread that uses it
        self._original = original

    def _route_to(self, writer: _CellWriter | None) -> None:
        """Send the current thread's writes to ``writer`` (``None``: back to the original)."""
        view = self.__dict__
        if writer is None:
            for name in ("_writer", "write", "buffer", "encoding", "errors"):
                view.pop(name, None)
        else:
            view.update(
                _writer=writer,
                write=writer.write,
                buffer=writer.buffer,
                encoding=writer.encoding,
                errors=writer.errors,
            )

    def write(self, s: str) -> int:
        original = self._original
        if original is None:
            if not isinstance(s, str):
                raise _type_error(s)
            return len(s)
        return original.write(s)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._writer is None and self._original is not None:
            self._original.flush()

    def isatty(self) -> bool:
        if self._writer is not None or self._original is None:
            return False
        return bool(self._original.isatty())

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def fileno(self) -> int:
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        """Ignored: the proxies stay until uninstalled."""

    def __getattr__(self, name: str) -> Any:
        # Not routed: ``buffer``, ``encoding``, ``errors``, ``name``... are the original's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._original, name)


io.TextIOBase.register(_RoutingStream)

_proxies: tuple[_RoutingStream, _RoutingStream] | None = None


def _current_route() -> tuple[_CellWriter | None, _CellWriter | None]:
    proxies = _proxies
    if proxies is None:
        return None, None
    return proxies[0]._writer, proxies[1]._writer


def _set_route(out: _CellWriter | None, err: _CellWriter | None) -> None:
    proxies = _proxies
    if proxies is not None:
        proxies[0]._route_to(out)
        proxies[1]._route_to(err)


_install_lock = threading.Lock()
_install_count = 0
_installed_originals: tuple[Any, Any] = (None, None)
_thread_start: Callable[..., None] = threading.Thread.start


def _start_inheriting_route(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    """``threading.Thread.start`` while proxies are installed: the new thread's output goes
    to the cell that was running in the starting thread."""
    out, err = _current_route()
    if (out is not None or err is not None) and not getattr(self, "_amphikernel_internal", False):
        run = self.run

        def run_in_cell() -> None:
            _set_route(out, err)
            try:
                run()
            finally:
                _set_route(None, None)

        self.run = run_in_cell  # type: ignore[method-assign]
    _thread_start(self, *args, **kwargs)


def install_thread_local_proxies() -> None:
    """Install the routing proxies as ``sys.stdout``/``sys.stderr`` (reference counted).

    The first call saves the current ``sys.stdout``/``sys.stderr``, replaces them with proxies
    and wraps ``threading.Thread.start`` so threads inherit their starter's cell; later calls
    only count.  Each call must be matched by :func:`uninstall_thread_local_proxies`.
    Thread-local consoles call both themselves.
    """
    global _install_count, _installed_originals, _proxies, _thread_start
    with _install_lock:
        _install_count += 1
        if _install_count > 1:
            return
        _installed_originals = (sys.stdout, sys.stderr)
        _proxies = (_RoutingStream(sys.stdout), _RoutingStream(sys.stderr))
        sys.stdout, sys.stderr = _proxies
        if threading.Thread.start is not _start_inheriting_route:
            _thread_start = threading.Thread.start
            threading.Thread.start = _start_inheriting_route  # type: ignore[method-assign]


def uninstall_thread_local_proxies() -> None:
    """Undo one :func:`install_thread_local_proxies`; the last one restores exactly the saved
    ``sys.stdout``/``sys.stderr`` objects and ``threading.Thread.start``.  Extra calls are
    no-ops."""
    global _install_count, _installed_originals, _proxies
    with _install_lock:
        if _install_count == 0:
            return
        _install_count -= 1
        if _install_count:
            return
        sys.stdout, sys.stderr = _installed_originals
        _installed_originals = (None, None)
        _proxies = None
        if threading.Thread.start is _start_inheriting_route:
            threading.Thread.start = _thread_start  # type: ignore[method-assign]


class _ThreadLocalConsole(_ThreadedConsole):
    """Thread-local mode: registers the cell with the process-wide routing proxies."""

    mode: ConsoleMode = "thread-local"

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self._owner: int | None = None
        self._previous: tuple[_CellWriter | None, _CellWriter | None] = (None, None)
        install_thread_local_proxies()

    def _install(self, cell: _Cell) -> None:
        proxies = _proxies
        if proxies is None or sys.stdout is not proxies[0] or sys.stderr is not proxies[1]:
            _log.warning(
                "sys.stdout/sys.stderr were replaced: cell %r is not captured", cell.cell_id
            )
        stdout, stderr = _installed_originals
        cell.out = self._writer_class(self, cell, "stdout", stdout, None)
        cell.err = self._writer_class(self, cell, "stderr", stderr, None)
        self._owner = threading.get_ident()
        self._previous = _current_route()
        _set_route(cell.out, cell.err)

    def _uninstall(self, cell: _Cell) -> None:
        if self._owner == threading.get_ident():
            _set_route(*self._previous)
        self._owner = None
        self._previous = (None, None)

    def _shutdown(self) -> None:
        try:
            super()._shutdown()
        finally:
            uninstall_thread_local_proxies()
