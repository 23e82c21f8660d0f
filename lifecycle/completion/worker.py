"""The completion worker: answers ``complete`` commands on a daemon thread, newest first."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lifecycle import protocol
from lifecycle.completion.api import answer, warm_up
from lifecycle.completion.request import _clamp

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package

_WORKER_THREAD_NAME = "amphi-completion"


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
