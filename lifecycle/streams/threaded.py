"""What fd and thread-local modes share: a flusher thread delivers while a cell runs.

The first write after a quiet period wakes the flusher, which delivers at once, then every
flush interval (doubling up to the maximum) while the cell keeps printing.  Threads the
package starts for itself are marked internal so they never inherit a cell's output route.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lifecycle.streams.buffer import _Cell
from lifecycle.streams.console import Console, Sink

_log = logging.getLogger("lifecycle.streams")  # one logger for the whole package
_monotonic = time.monotonic


def _start_internal_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread._amphikernel_internal = True  # type: ignore[attr-defined]  # never inherits a cell
    thread.start()
    return thread


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
