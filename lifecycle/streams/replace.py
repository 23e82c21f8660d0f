"""``"replace"`` mode (Pyodide: one thread, no threading).

``sys.stdout``/``sys.stderr`` are replaced during the cell.  This mode never starts a
thread: writes deliver on their own when the flush interval has elapsed, an asyncio timer
(when a loop is running) delivers trailing output while the cell awaits, and ``end_cell``
delivers the rest.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from lifecycle.streams.buffer import _Cell, _CellWriter, _type_error
from lifecycle.streams.console import Console, ConsoleMode, Sink

_monotonic = time.monotonic


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
