"""The mode-independent :class:`Console`: cell lifecycle, buffer accounting, batching, delivery.

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

Each mode subclasses :class:`Console` and fills in its hooks (``_install``, ``_uninstall``,
``_sync``...): :mod:`lifecycle.streams.replace` directly, fd and thread-local modes through
:class:`lifecycle.streams.threaded._ThreadedConsole`.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Literal, TypeAlias

from lifecycle.streams.batching import _runs, _utf8_prefix, _valid_text_and_size
from lifecycle.streams.buffer import StreamName, _Cell, _CellWriter

ConsoleMode: TypeAlias = Literal["fd", "replace", "thread-local"]
Sink: TypeAlias = Callable[[str, StreamName, str], None]
"""``sink(cell_id, stream, text)``: one call is one message to the frontend; called from any
thread, never concurrently for one console."""

DEFAULT_MAX_BYTES_PER_CELL = 5_000_000
"""Default cap on one cell's console output, in UTF-8 bytes."""

_log = logging.getLogger("lifecycle.streams")  # one logger for the whole package


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
