"""Console capture: the stdout/stderr of a running cell, batched into a few ordered messages.

A host picks one of three capture modes when it creates a kernel (see the hosts table in
``ARCHITECTURE.md``)::

    console = create_console(mode, sink, max_bytes_per_cell=5_000_000)
    console.start_cell(cell_id)   # in the thread that runs the cell
    ...                           # print(), sys.stderr.write(), os.system(), C writes, threads
    console.end_cell()            # same thread: everything is delivered through ``sink`` first
    console.close()               # teardown: restores streams and file descriptors

``"fd"`` (subprocess host, one kernel per process)
    During a cell, file descriptors 1 and 2 point (``os.dup2``) at pipes drained by two reader
    threads, so output of C extensions and child processes is captured.  ``sys.stdout`` and
    ``sys.stderr`` are replaced by writers that append straight to the cell's buffer, so the
    relative order of Python-level stdout and stderr writes is exact.  ``end_cell`` flushes
    Python and C stdio, writes a sync token into each pipe and waits (bounded by
    ``sync_timeout``) until the readers have consumed everything up to it, then restores the
    descriptors.  Between cells the original descriptors are in place.
``"replace"`` (Pyodide: one thread, no threading)
    ``sys.stdout``/``sys.stderr`` are replaced during the cell.  This mode never starts a
    thread: writes deliver on their own when the flush interval has elapsed, an asyncio timer
    (when a loop is running) delivers trailing output while the cell awaits, and ``end_cell``
    delivers the rest.
``"thread-local"`` (thread hosts: many kernels, one thread each, in one process)
    Routing proxies are installed once per process as ``sys.stdout``/``sys.stderr``
    (reference counted, see :func:`install_thread_local_proxies`).  Each write goes to the cell
    registered by the writing thread and falls through to the original stream otherwise.
    Threads started while a cell runs inherit its registration (``threading.Thread.start`` is
    wrapped while the proxies are installed).

Batching (all modes): a cell's output is one ordered list of chunks (stdout chunks as ``str``,
stderr chunks as 1-tuples), so stdout and stderr of one cell are never reordered; a delivery
joins consecutive chunks of one stream into one ``sink`` call.  The first write after a quiet
period is delivered at once (leading edge); later writes wait for the flush interval, which
starts at ``flush_interval`` seconds and doubles up to ``max_flush_interval`` while the cell
keeps printing.  A pending buffer larger than ``flush_bytes`` characters is delivered at once.
After ``max_bytes_per_cell`` UTF-8 bytes the rest of the cell's output is discarded and one
notice is delivered on stderr.  Text handed to ``sink`` is always valid Unicode (lone
surrogates become U+FFFD).  Output written by other threads at the very moment ``end_cell``
runs may miss the cell; output written after it goes to the original streams.
"""

from __future__ import annotations

import codecs
import functools
import io
import itertools
import logging
import operator
import os
import secrets
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeAlias

__all__ = [
    "DEFAULT_MAX_BYTES_PER_CELL",
    "Console",
    "ConsoleMode",
    "Sink",
    "StreamName",
    "create_console",
    "install_thread_local_proxies",
    "uninstall_thread_local_proxies",
]

StreamName: TypeAlias = Literal["stdout", "stderr"]
ConsoleMode: TypeAlias = Literal["fd", "replace", "thread-local"]
Sink: TypeAlias = Callable[[str, StreamName, str], None]
"""``sink(cell_id, stream, text)``: one call is one message to the frontend; called from any
thread, never concurrently for one console."""

DEFAULT_MAX_BYTES_PER_CELL = 5_000_000
"""Default cap on one cell's console output, in UTF-8 bytes."""

_log = logging.getLogger(__name__)
_monotonic = time.monotonic
_first = operator.itemgetter(0)
_READ_SIZE = 65536
_PIPE_SIZE = 1 << 20


def _type_error(value: object) -> TypeError:
    return TypeError(f"write() argument must be str, not {type(value).__name__}")


# --------------------------------------------------------------------------- cell buffer


class _Cell:
    """The console output of one cell run: an ordered chunk buffer and its accounting.

    ``items`` holds stdout chunks as ``str`` and stderr chunks as ``(str,)`` so the hot path
    for the common stream appends without building a tuple.  ``chars`` (characters waiting in
    ``items``) is only approximate under concurrent writers: the slow path recounts it.
    ``limit`` is written only under the console's state lock; a write whose pending total
    would exceed it takes the slow path (flush size reached, cap reached, or cell closed).
    """

    __slots__ = (
        "accepted",
        "armed",
        "cell_id",
        "chars",
        "delivered",
        "due",
        "ends_with_newline",
        "err",
        "interval",
        "items",
        "limit",
        "notice_sent",
        "open",
        "out",
        "timer",
        "truncated",
    )

    def __init__(self, cell_id: str, limit: int, interval: float) -> None:
        self.cell_id = cell_id
        self.items: list[Any] = []
        self.chars = 0
        self.limit = limit
        self.accepted = 0  # characters taken out of ``items`` so far
        self.delivered = 0  # UTF-8 bytes handed to the sink so far
        self.open = True
        self.truncated = False
        self.notice_sent = False
        self.ends_with_newline = True
        self.armed = False  # threaded modes: the flusher is timing this cell
        self.due = 0.0  # replace mode: monotonic time from which a write delivers
        self.interval = interval  # replace mode: current flush interval, seconds
        self.timer: Any = None  # replace mode: asyncio TimerHandle of the trailing flush
        self.out: _CellWriter | None = None
        self.err: _CellWriter | None = None


def _runs(batch: list[Any]) -> list[tuple[StreamName, str]]:
    """Join consecutive chunks of one stream: ``[(stream, text), ...]`` in order, no empties."""
    runs: list[tuple[StreamName, str]] = []
    for kind, group in itertools.groupby(batch, type):
        stream: StreamName
        if kind is tuple:
            stream, text = "stderr", "".join(map(_first, group))
        else:
            stream, text = "stdout", "".join(group)
        if not text:
            continue
        if runs and runs[-1][0] == stream:
            runs[-1] = (stream, runs[-1][1] + text)
        else:
            runs.append((stream, text))
    return runs


def _valid_text_and_size(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates replaced by U+FFFD, and its UTF-8 size in bytes."""
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return text, len(text.encode("utf-8"))


def _utf8_prefix(text: str, size: int) -> str:
    """The longest prefix of ``text`` (valid Unicode) whose UTF-8 encoding fits ``size`` bytes."""
    if text.isascii():
        return text[:size]
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


# ------------------------------------------------------------------------------ writers


class _CellWriter(io.TextIOBase):
    """A text stream appending to one cell's buffer, for modes with a flusher thread.

    Installed as ``sys.stdout``/``sys.stderr`` (fd mode) or routed to by the proxies
    (thread-local mode); the first write of a burst wakes the flusher.  Once the cell has
    ended, writes fall through to ``original``.
    """

    encoding = "utf-8"  # what ``.buffer`` decodes
    errors = "replace"  # lone surrogates reach the sink as U+FFFD

    def __init__(
        self, console: Console, cell: _Cell, stream: StreamName, original: Any, fileno: int | None
    ) -> None:
        super().__init__()
        self.stream = stream
        self._is_err = stream == "stderr"  # stderr chunks are stored as 1-tuples
        self._console = console
        self._cell = cell
        self._append = cell.items.append
        self._original = original
        self._fileno = fileno
        self.buffer = _CellBinaryWriter(self)

    def write(self, s: str) -> int:
        # The hot path (tens of thousands of calls per second): keep it to a few operations.
        if s.__class__ is not str and not isinstance(s, str):
            raise _type_error(s)
        cell = self._cell
        n = len(s)
        chars = cell.chars + n
        if chars > cell.limit:
            return self._write_slow(s)
        cell.chars = chars
        self._append((s,) if self._is_err else s)
        if not cell.armed:
            self._console._kick(cell)
        return n

    def _write_slow(self, s: str) -> int:
        cell = self._cell
        if not cell.open:
            original = self._original
            return len(s) if original is None else original.write(s)
        self._console._accept(cell, self.stream, s, sync=True)
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Delivery is driven by the console's batching; after the cell, flush the original."""
        if not self._cell.open and self._original is not None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._fileno is not None:
            return self._fileno
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    def close(self) -> None:
        """Ignored: a cell cannot close the console."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._original, name)


class _InlineCellWriter(_CellWriter):
    """Replace-mode writer: no flusher thread, so a write delivers by itself once the flush
    interval has elapsed (the first write after a quiet period at once)."""

    def write(self, s: str) -> int:
        # Same as _CellWriter.write but for the last step.
        if s.__class__ is not str and not isinstance(s, str):
            raise _type_error(s)
        cell = self._cell
        n = len(s)
        chars = cell.chars + n
        if chars > cell.limit:
            return self._write_slow(s)
        cell.chars = chars
        self._append((s,) if self._is_err else s)
        if _monotonic() >= cell.due:
            self._console._tick(cell)
        return n


class _CellBinaryWriter(io.BufferedIOBase):
    """``.buffer`` of a cell writer: decodes UTF-8 (``errors="replace"``) into the text writer.

    An incomplete multibyte sequence at the end of one write is completed by the next; one
    still incomplete when the cell ends becomes U+FFFD.
    """

    def __init__(self, text: _CellWriter) -> None:
        super().__init__()
        self._text = text
        self._decoder: codecs.IncrementalDecoder | None = None

    def write(self, b: Any) -> int:  # type: ignore[override]
        if isinstance(b, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        with memoryview(b) as view:
            data = view.tobytes()
        if self._decoder is None:
            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._decoder.decode(data)
        if text:
            self._text.write(text)
        return len(data)

    def finish(self) -> None:
        """End of the cell: deliver a dangling incomplete sequence as U+FFFD."""
        if self._decoder is not None:
            text = self._decoder.decode(b"", True)
            if text:
                self._text.write(text)

    def writelines(self, lines: Iterable[Any]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing to do."""

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def close(self) -> None:
        """Ignored."""


# ----------------------------------------------------------- thread-local routing proxies


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


# ------------------------------------------------------------------------------ helpers


def _start_internal_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread._amphikernel_internal = True  # type: ignore[attr-defined]  # never inherits a cell
    thread.start()
    return thread


def _flush_quietly(stream: Any) -> None:
    if stream is None:
        return
    try:
        stream.flush()
    except Exception:  # a closed or broken stream must not break the cell boundary
        pass


_fflush: Any = None


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: push C-level stdio buffers into the file descriptors (best effort)."""
    global _fflush
    if _fflush is None:
        _fflush = False
        try:
            import ctypes

            libc = ctypes.CDLL("ucrtbase" if os.name == "nt" else None)
            fflush = libc.fflush
            fflush.argtypes = [ctypes.c_void_p]
            fflush.restype = ctypes.c_int
            _fflush = fflush
        except (ImportError, OSError, AttributeError):
            _log.debug("C stdio cannot be flushed on this platform", exc_info=True)
    if _fflush:
        _fflush(None)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass


def _enlarge_pipe(fd: int) -> None:
    """Give a pipe 1 MiB of buffer where the OS allows (Linux), so C code writing a lot while
    holding the GIL does not block before the reader thread gets to run."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


def _partial_token_length(data: bytes, token: bytes) -> int:
    """Length of the longest suffix of ``data`` that is a proper prefix of ``token``."""
    start = max(0, len(data) - len(token) + 1)
    if data.find(token[:1], start) < 0:
        return 0
    for size in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:size]):
            return size
    return 0


# ------------------------------------------------------------------------------ consoles


class Console:
    """Captures the console output of one kernel's cells and delivers it through a sink.

    Create one with :func:`create_console`.  ``start_cell``/``end_cell`` bracket each cell run
    and are called from the thread that runs the cell; ``close`` may be called from any
    thread.
    """

    mode: ConsoleMode
    _writer_class: type[_CellWriter] = _CellWriter

    def __init__(
        self,
        sink: Sink,
        *,
        max_bytes_per_cell: int = DEFAULT_MAX_BYTES_PER_CELL,
        flush_interval: float = 0.02,
        max_flush_interval: float = 0.5,
        flush_bytes: int = 1 << 20,
        sync_timeout: float = 2.0,
    ) -> None:
        if max_bytes_per_cell < 0:
            raise ValueError(f"max_bytes_per_cell must be >= 0, got {max_bytes_per_cell}")
        if not 0 < flush_interval <= max_flush_interval:
            raise ValueError("need 0 < flush_interval <= max_flush_interval (seconds)")
        if flush_bytes <= 0:
            raise ValueError(f"flush_bytes must be > 0, got {flush_bytes}")
        self._sink = sink
        self._max_bytes = int(max_bytes_per_cell)
        self._min_interval = float(flush_interval)
        self._max_interval = float(max_flush_interval)
        self._flush_chars = int(flush_bytes)
        self._sync_timeout = float(sync_timeout)
        self._cell: _Cell | None = None
        self._closed = False
        self._deliver_lock = threading.RLock()  # held across sink calls: keeps them ordered
        self._state_lock = threading.RLock()  # short; never held while calling out
        self._delivering = False
        _live_consoles.add(self)

    @property
    def cell_id(self) -> str | None:
        """The id of the cell being captured, or ``None`` between cells."""
        cell = self._cell
        return None if cell is None else cell.cell_id

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def start_cell(self, cell_id: str) -> None:
        """Capture output as ``cell_id``'s from now on; call it in the thread running the cell.

        A cell still being captured is ended first.

        Raises:
            RuntimeError: the console is closed.
            OSError: fd mode could not redirect the file descriptors (nothing is changed).
        """
        if self._closed:
            raise RuntimeError("start_cell() on a closed console")
        if self._cell is not None:
            self.end_cell()
        cell = _Cell(cell_id, min(self._flush_chars, self._max_bytes), self._min_interval)
        self._prepare()
        self._cell = cell
        try:
            self._install(cell)
        except BaseException:
            self._cell = None
            self._close_cell(cell)
            raise

    def flush(self) -> None:
        """Deliver what the running cell has written so far through Python streams (e.g.
        before the cell's result is shown, as IPython flushes before publishing an output).
        A no-op when no cell is being captured."""
        cell = self._cell
        if cell is not None:
            self._drain(cell)

    def end_cell(self) -> None:
        """Stop capturing; everything written so far is delivered to the sink, in order,
        before this returns.  Call it in the thread that called :meth:`start_cell`.  A no-op
        when no cell is being captured."""
        cell = self._cell
        if cell is None:
            return
        try:
            self._sync(cell)
        finally:
            try:
                self._uninstall(cell)
            finally:
                try:
                    for writer in (cell.out, cell.err):
                        if writer is not None:
                            writer.buffer.finish()
                finally:
                    self._close_cell(cell)
                    self._cell = None
                    self._drain(cell)

    def close(self) -> None:
        """End the cell being captured (if any), restore every stream and file descriptor
        exactly as it was and stop this console's threads.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.end_cell()
        finally:
            self._shutdown()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"cell={self.cell_id!r}"
        return f"<{type(self).__name__} mode={self.mode!r} {state}>"

    # -- mode hooks ----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Before a cell starts (threaded modes: make sure the flusher runs)."""

    def _install(self, cell: _Cell) -> None:
        raise NotImplementedError

    def _sync(self, cell: _Cell) -> None:
        """Before a cell ends: make output still in transit reach the cell (fd mode)."""

    def _uninstall(self, cell: _Cell) -> None:
        raise NotImplementedError

    def _schedule(self, cell: _Cell) -> None:
        """After a slow-path write that did not deliver: arm the next delivery."""

    def _request_flush(self, cell: _Cell) -> None:
        """A write from a thread that must not call the sink asked for a delivery."""
        self._drain(cell)

    def _kick(self, cell: _Cell) -> None:
        cell.armed = True

    def _tick(self, cell: _Cell) -> None:
        """Replace mode only."""

    def _shutdown(self) -> None:
        """Release the mode's resources (threads, descriptors, proxies)."""

    # -- buffer accounting and delivery ---------------------------------------------------

    def _limit_for(self, cell: _Cell) -> int:
        if not cell.open or cell.truncated:
            return -1
        return min(self._flush_chars, max(0, self._max_bytes - cell.accepted))

    def _close_cell(self, cell: _Cell) -> None:
        with self._state_lock:
            cell.open = False
            cell.limit = -1

    def _accept(self, cell: _Cell, stream: StreamName, text: str, *, sync: bool) -> None:
        """Slow path of a write: the pending buffer reached the flush size or the cap.

        ``sync`` delivers in this thread when needed; otherwise the flusher is asked to.
        """
        n = len(text)
        with self._state_lock:
            if not cell.open or cell.truncated:
                return
            pending = sum(
                len(item) if item.__class__ is not tuple else len(item[0]) for item in cell.items
            )
            room = self._max_bytes - cell.accepted - pending
            if n > room:
                if room > 0:
                    cell.items.append(text[:room] if stream == "stdout" else (text[:room],))
                    pending += room
                cell.truncated = True
                flush = True
            else:
                cell.items.append(text if stream == "stdout" else (text,))
                pending += n
                flush = pending > self._flush_chars
            cell.chars = pending
            cell.limit = self._limit_for(cell)
        if not flush:
            self._schedule(cell)
        elif sync:
            self._drain(cell)
        else:
            self._request_flush(cell)

    def _drain(self, cell: _Cell) -> bool:
        """Deliver everything pending in ``cell``; returns whether the sink was called."""
        with self._deliver_lock:
            if self._delivering:  # the sink itself wrote to this console: deliver later
                return False
            items = cell.items
            count = len(items)
            if not count and not (cell.truncated and not cell.notice_sent):
                return False
            batch = items[:count]
            del items[:count]
            runs = _runs(batch)
            taken = sum(len(text) for _, text in runs)
            with self._state_lock:
                cell.chars = max(0, cell.chars - taken)
                cell.accepted += taken
                runs = self._apply_cap(cell, runs)
                cell.limit = self._limit_for(cell)
            if not runs:
                return False
            self._delivering = True
            try:
                for stream, text in runs:
                    self._emit(cell.cell_id, stream, text)
            finally:
                self._delivering = False
            return True

    def _apply_cap(
        self, cell: _Cell, runs: list[tuple[StreamName, str]]
    ) -> list[tuple[StreamName, str]]:
        """Cut ``runs`` at the byte cap and add the truncation notice once (state lock held)."""
        if cell.notice_sent:  # late writes that raced with the truncation
            return []
        kept: list[tuple[StreamName, str]] = []
        for stream, text in runs:
            valid, size = _valid_text_and_size(text)
            room = self._max_bytes - cell.delivered
            cut = size > room
            if cut:
                valid = _utf8_prefix(valid, max(room, 0))
                size = len(valid.encode("utf-8"))
                cell.truncated = True
            if valid:
                kept.append((stream, valid))
                cell.delivered += size
                cell.ends_with_newline = valid.endswith("\n")
            if cut:
                break
        if cell.truncated and not cell.notice_sent:
            cell.notice_sent = True
            notice = (
                f"[output truncated: more than {self._max_bytes} bytes; "
                "the rest of this cell's output is discarded]\n"
            )
            if not cell.ends_with_newline:
                notice = "\n" + notice
            if kept and kept[-1][0] == "stderr":
                kept[-1] = ("stderr", kept[-1][1] + notice)
            else:
                kept.append(("stderr", notice))
        return kept

    def _emit(self, cell_id: str, stream: StreamName, text: str) -> None:
        try:
            self._sink(cell_id, stream, text)
        except Exception:
            _log.exception(
                "console sink failed for cell %r: %d characters of %s lost",
                cell_id,
                len(text),
                stream,
            )


class _ThreadedConsole(Console):
    """Shared by fd and thread-local modes: a flusher thread delivers while cells run."""

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self._wake = threading.Event()
        self._urgent = False
        self._stopping = False
        self._flusher: threading.Thread | None = None

    def _prepare(self) -> None:
        if self._flusher is None:
            self._flusher = _start_internal_thread(self._flush_loop, "amphikernel-console-flush")

    def _kick(self, cell: _Cell) -> None:
        cell.armed = True
        self._wake.set()

    def _schedule(self, cell: _Cell) -> None:
        if not cell.armed:
            self._kick(cell)

    def _request_flush(self, cell: _Cell) -> None:
        self._urgent = True
        self._wake.set()

    def _flush_loop(self) -> None:
        """Deliver the current cell: at once after a quiet period, then every interval
        (doubling up to the maximum) while output keeps coming; idle when it stops."""
        watched: _Cell | None = None
        interval = self._min_interval
        due: float | None = None  # None: idle, waiting for a writer's kick
        while True:
            self._wake.wait(None if due is None else max(0.0, due - _monotonic()))
            self._wake.clear()
            if self._stopping:
                return
            try:
                cell = self._cell
                if cell is None or not cell.open:
                    watched, due = None, None
                    continue
                if cell is not watched:
                    watched, due, interval = cell, None, self._min_interval
                if due is None:  # leading edge
                    self._urgent = False
                    self._drain(cell)
                    due = _monotonic() + interval
                    continue
                if not self._urgent and _monotonic() < due:
                    continue
                self._urgent = False
                if self._drain(cell):
                    interval = min(interval * 2, self._max_interval)
                    due = _monotonic() + interval
                    continue
                cell.armed = False  # quiet: the next write kicks us again
                if cell.items:  # ...unless one raced with going idle
                    cell.armed = True
                    due = _monotonic()
                else:
                    due, interval = None, self._min_interval
            except Exception:
                _log.exception("console flusher failed")
                due = None

    def _shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(timeout=max(1.0, self._sync_timeout))


class _ReplaceConsole(Console):
    """Replace mode: swaps ``sys.stdout``/``sys.stderr``; never starts a thread."""

    mode: ConsoleMode = "replace"
    _writer_class = _InlineCellWriter

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self._saved_streams: tuple[Any, Any] = (None, None)

    def _install(self, cell: _Cell) -> None:
        self._saved_streams = (sys.stdout, sys.stderr)
        cell.out = self._writer_class(self, cell, "stdout", sys.stdout, None)
        cell.err = self._writer_class(self, cell, "stderr", sys.stderr, None)
        sys.stdout, sys.stderr = cell.out, cell.err

    def _uninstall(self, cell: _Cell) -> None:
        if cell.timer is not None:
            cell.timer.cancel()
            cell.timer = None
        sys.stdout, sys.stderr = self._saved_streams
        self._saved_streams = (None, None)

    def _schedule(self, cell: _Cell) -> None:
        if _monotonic() >= cell.due:
            self._tick(cell)

    def _tick(self, cell: _Cell) -> None:
        """A write found the flush interval elapsed: deliver now and set the next interval."""
        if self._delivering:
            return
        quiet = _monotonic() - cell.due >= cell.interval
        cell.interval = self._min_interval if quiet else min(cell.interval * 2, self._max_interval)
        self._drain(cell)
        cell.due = _monotonic() + cell.interval
        self._arm_timer(cell)

    def _arm_timer(self, cell: _Cell) -> None:
        """While a cell awaits, an asyncio timer delivers its trailing output (if a loop runs)."""
        if cell.timer is not None or not cell.open:
            return
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        cell.timer = loop.call_later(cell.interval, self._on_timer, cell)

    def _on_timer(self, cell: _Cell) -> None:
        cell.timer = None
        if not cell.open:
            return
        if cell.items:
            cell.interval = min(cell.interval * 2, self._max_interval)
            self._drain(cell)
            cell.due = _monotonic() + cell.interval
            self._arm_timer(cell)
        else:
            cell.due = 0.0  # quiet: the next write is delivered at once


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


def _pending_bytes(fd: int) -> int:
    """Bytes waiting in a pipe (``FIONREAD``)."""
    import fcntl
    import termios

    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def _readable_waiter(fd: int) -> Callable[[], None]:
    """A function that blocks until ``fd`` is readable (or closed/hung up)."""
    import select

    if hasattr(select, "poll"):
        poll = select.poll()
        poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return lambda: poll.poll()
    return lambda: select.select([fd], [], [])


class _FdConsole(_ThreadedConsole):
    """fd mode: descriptors 1 and 2 go to pipes during a cell; Python streams are replaced."""

    mode: ConsoleMode = "fd"

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self._token = b"\x00amphikernel-sync-" + secrets.token_hex(8).encode() + b"\x00"
        self._synced = (threading.Event(), threading.Event())
        self._busy = [False, False]
        self._readers_stopping = False
        self._saved_fds: tuple[int, int] | None = None
        self._saved_streams: tuple[Any, Any] = (None, None)
        opened: list[int] = []
        try:
            for fd in (1, 2):
                opened.append(os.dup(fd))
            self._passthrough = (opened[0], opened[1])  # where output between cells goes
            pipes = []
            for _ in range(2):
                read_end, write_end = os.pipe()
                opened += [read_end, write_end]
                pipes.append((read_end, write_end))
                _enlarge_pipe(write_end)
        except OSError:
            for fd in opened:
                os.close(fd)
            raise
        self._pipes = (pipes[0], pipes[1])
        self._readers = tuple(
            _start_internal_thread(
                functools.partial(self._read_loop, index), f"amphikernel-console-fd{index + 1}"
            )
            for index in (0, 1)
        )

    def _install(self, cell: _Cell) -> None:
        streams = (sys.stdout, sys.stderr)
        for stream in (*streams, sys.__stdout__, sys.__stderr__):
            _flush_quietly(stream)
        _flush_c_stdio()
        saved: list[int] = []
        try:
            for fd in (1, 2):
                saved.append(os.dup(fd))
            os.dup2(self._pipes[0][1], 1)
            os.dup2(self._pipes[1][1], 2)
        except OSError:
            for fd, dup in zip((1, 2), saved):
                os.dup2(dup, fd)
                os.close(dup)
            raise
        self._saved_fds = (saved[0], saved[1])
        self._saved_streams = streams
        cell.out = self._writer_class(self, cell, "stdout", streams[0], 1)
        cell.err = self._writer_class(self, cell, "stderr", streams[1], 2)
        sys.stdout, sys.stderr = cell.out, cell.err

    def _sync(self, cell: _Cell) -> None:
        for stream in (*self._saved_streams, sys.__stdout__, sys.__stderr__):
            _flush_quietly(stream)
        _flush_c_stdio()
        if self._pipes_idle():
            return  # nothing written at the descriptor level is still in flight
        self._sync_pipes()

    def _pipes_idle(self) -> bool:
        """Whether both pipes are empty and neither reader holds bytes it has not fed yet.

        A reader marks itself busy (holding the GIL) before it reads, so bytes are either
        still in the pipe (counted by FIONREAD) or with a busy reader: when neither is the
        case the token round trip of :meth:`_sync_pipes` is not needed.
        """
        if self._busy[0] or self._busy[1]:
            return False
        try:
            return all(_pending_bytes(read_end) == 0 for read_end, _ in self._pipes) and not (
                self._busy[0] or self._busy[1]
            )
        except OSError:
            return False

    def _sync_pipes(self) -> bool:
        """Wait until the readers have consumed every byte written to the pipes so far."""
        for event in self._synced:
            event.clear()
        for _, write_end in self._pipes:
            _write_all(write_end, self._token)
        deadline = _monotonic() + self._sync_timeout
        done = all([event.wait(max(0.0, deadline - _monotonic())) for event in self._synced])
        if not done:
            _log.warning("console pipes not drained within %.1f s", self._sync_timeout)
        return done

    def _uninstall(self, cell: _Cell) -> None:
        saved, self._saved_fds = self._saved_fds, None
        try:
            if saved is not None:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        finally:
            if saved is not None:
                for dup in saved:
                    os.close(dup)
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = (None, None)

    def _read_loop(self, index: int) -> None:
        """Reader thread of pipe ``index`` (0: stdout, 1: stderr)."""
        read_end = self._pipes[index][0]
        stream: StreamName = "stdout" if index == 0 else "stderr"
        token = self._token
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        held = b""
        busy = self._busy
        poller = _readable_waiter(read_end)
        while True:
            try:
                poller()  # blocks (without the GIL) until the pipe is readable or closed
                busy[index] = True
                chunk = os.read(read_end, _READ_SIZE)
            except OSError:
                busy[index] = False
                return
            if not chunk:
                busy[index] = False
                return
            data = held + chunk if held else chunk
            try:
                at = data.find(token)
                while at >= 0:
                    self._feed(index, stream, decoder, data[:at], final=True)
                    data = data[at + len(token) :]
                    self._synced[index].set()
                    if self._readers_stopping:
                        return
                    at = data.find(token)
                keep = _partial_token_length(data, token)
                held = data[len(data) - keep :] if keep else b""
                if keep:
                    data = data[: len(data) - keep]
                if data:
                    self._feed(index, stream, decoder, data, final=False)
            except Exception:
                _log.exception("console reader failed")
            finally:
                busy[index] = False

    def _feed(
        self,
        index: int,
        stream: StreamName,
        decoder: codecs.IncrementalDecoder,
        data: bytes,
        *,
        final: bool,
    ) -> None:
        """Bytes read from pipe ``index``: to the open cell, else to the original descriptor."""
        cell = self._cell
        if cell is None or not cell.open:
            if data:
                _write_all(self._passthrough[index], data)
            return
        text = decoder.decode(data, final)
        if not text:
            return
        n = len(text)
        chars = cell.chars + n
        if chars > cell.limit:
            self._accept(cell, stream, text, sync=False)
            return
        cell.chars = chars
        cell.items.append(text if index == 0 else (text,))
        if not cell.armed:
            self._kick(cell)

    def _shutdown(self) -> None:
        try:
            self._readers_stopping = True
            self._sync_pipes()
            for reader in self._readers:
                reader.join(timeout=self._sync_timeout)
            for index, (read_end, write_end) in enumerate(self._pipes):
                os.close(write_end)
                if not self._readers[index].is_alive():
                    os.close(read_end)
            for fd in self._passthrough:
                os.close(fd)
        finally:
            super()._shutdown()


_live_consoles: weakref.WeakSet[Console] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child (``multiprocessing`` with fork) must never call the parent's sink: the
    cells it inherited are closed, so its writes fall through to the original streams (in fd
    mode those write to descriptors 1 and 2, which are the parent's pipes).  No lock is taken:
    another thread may have held one at fork time."""
    for console in list(_live_consoles):
        cell = console._cell
        if cell is not None:
            cell.open = False
            cell.limit = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_MODES: dict[str, type[Console]] = {
    "fd": _FdConsole,
    "replace": _ReplaceConsole,
    "thread-local": _ThreadLocalConsole,
}


def create_console(
    mode: ConsoleMode,
    sink: Sink,
    *,
    max_bytes_per_cell: int = DEFAULT_MAX_BYTES_PER_CELL,
    flush_interval: float = 0.02,
    max_flush_interval: float = 0.5,
    flush_bytes: int = 1 << 20,
    sync_timeout: float = 2.0,
) -> Console:
    """Create a console capturing cell output in ``mode``.

    Args:
        mode: ``"fd"`` (subprocess host: file descriptors 1 and 2, C extensions and child
            processes included), ``"replace"`` (Pyodide: swaps ``sys.stdout``/``sys.stderr``,
            never starts a thread) or ``"thread-local"`` (thread hosts: per-thread routing
            proxies installed once per process).
        sink: ``sink(cell_id, stream, text)`` with ``stream`` ``"stdout"`` or ``"stderr"``;
            one call is one message.  Called from any thread (never concurrently for one
            console); an exception it raises is logged and the text is dropped.
        max_bytes_per_cell: cap on one cell's delivered output, UTF-8 bytes; beyond it the
            output is discarded and one notice is delivered on stderr.
        flush_interval: first delay, seconds, between deliveries of a cell that keeps
            printing (the first write after a quiet period is delivered at once).
        max_flush_interval: the delay doubles up to this many seconds.
        flush_bytes: pending output larger than this many characters is delivered at once.
        sync_timeout: fd mode: seconds ``end_cell`` waits for the pipes to drain (and
            ``close`` for its threads).

    Raises:
        ValueError: unknown ``mode`` or an out-of-range option.
        OSError: fd mode could not duplicate descriptors 1 and 2 or create its pipes.
    """
    try:
        console_class = _MODES[mode]
    except KeyError:
        raise ValueError(
            f"unknown console mode {mode!r}; expected one of {sorted(_MODES)}"
        ) from None
    return console_class(
        sink,
        max_bytes_per_cell=max_bytes_per_cell,
        flush_interval=flush_interval,
        max_flush_interval=max_flush_interval,
        flush_bytes=flush_bytes,
        sync_timeout=sync_timeout,
    )
