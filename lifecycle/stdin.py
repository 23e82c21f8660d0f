"""``input()`` and ``getpass()`` inside cells: an ``input-request`` out, block until the reply.

While a cell waits in ``input()``, the kernel's control loop is busy running that cell, so
replies never travel through the control queue: hosts hand ``input-reply`` commands to
:meth:`StdinBroker.deliver` from another thread (see
:class:`lifecycle.kernel_lifecycle.CommandRouter`).  A host whose kernel thread cannot be
woken by another thread (Pyodide: one worker thread) passes ``wait_reply``, a synchronous
function that blocks until the page answers (``Atomics.wait`` on a SharedArrayBuffer).

``builtins.input`` and ``getpass.getpass`` are replaced once per process by dispatchers that
use the broker of the kernel running the current cell, and fall back to the originals
outside cells.
"""

from __future__ import annotations

import builtins
import getpass
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.shared_patch import SharedPatch

__all__ = ["StdinBroker", "StdinUnavailableError"]

_POLL_SECONDS = 0.05
"""Wait granularity: an interrupt delivered as an asynchronous exception lands within this."""


class StdinUnavailableError(RuntimeError):
    """``input()`` cannot be answered in this host (e.g. a page that is not cross-origin
    isolated); the message says why."""


class StdinBroker:
    """Pairs a cell's ``input()`` with the host's ``input-reply``.

    Args:
        emit: sends notifications (``input-request``).
        wait_reply: optional synchronous ``(request) -> str`` used instead of waiting for
            :meth:`deliver` (hosts without a second thread).
        unavailable: a reason ``input()`` cannot work here; it then raises
            :class:`StdinUnavailableError` with that reason instead of waiting forever.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        emit: Callable[[Any], None],
        *,
        wait_reply: Callable[[protocol.InputRequest], str] | None = None,
        unavailable: str | None = None,
    ) -> None:
        self._emit = emit
        self._wait_reply = wait_reply
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._pending: dict[str, queue.SimpleQueue[Any]] = {}
        self._closed = False

    def request(self, prompt: str = "", *, password: bool = False) -> str:
        """Ask the frontend for a line of input and wait for it (the trailing newline is
        not included).

        Raises:
            KeyboardInterrupt: the kernel was interrupted while waiting.
            EOFError: the kernel is shutting down.
            StdinUnavailableError: this host cannot answer ``input()``.
        """
        if self._unavailable:
            raise StdinUnavailableError(self._unavailable)
        ctx = context_mod.current_or_none()
        request = protocol.InputRequest(
            request_id=f"input-{next(self._ids)}",
            cell_id=(ctx.cell_id or "") if ctx else "",
            prompt=str(prompt),
            password=password,
        )
        if self._wait_reply is not None:
            self._emit(request)
            return self._wait_reply(request)
        box: queue.SimpleQueue[Any] = queue.SimpleQueue()
        with self._lock:
            if self._closed:
                raise EOFError("the kernel is shutting down")
            self._pending[request.request_id] = box
        try:
            self._emit(request)
            while True:
                try:
                    answer = box.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if isinstance(answer, BaseException):
                    raise answer
                return answer
        finally:
            with self._lock:
                self._pending.pop(request.request_id, None)

    def deliver(self, reply: protocol.InputReply) -> bool:
        """Hand a reply to the waiting ``input()`` (any thread).  Returns ``False`` when no
        ``input()`` is waiting for that request id."""
        with self._lock:
            box = self._pending.get(reply.request_id)
        if box is None:
            return False
        box.put(reply.text)
        return True

    def interrupt(self) -> None:
        """Make every waiting ``input()`` raise ``KeyboardInterrupt``."""
        with self._lock:
            boxes = list(self._pending.values())
        for box in boxes:
            box.put(KeyboardInterrupt())

    def close(self) -> None:
        """Make every waiting ``input()`` raise ``EOFError``; later calls raise it at once."""
        with self._lock:
            self._closed = True
            boxes = list(self._pending.values())
        for box in boxes:
            box.put(EOFError("the kernel is shutting down"))

    @property
    def waiting(self) -> bool:
        """Whether an ``input()`` is waiting for a reply."""
        with self._lock:
            return bool(self._pending)


# ----------------------------------------------------------- process-wide dispatchers

_install_lock = threading.Lock()  # installs/uninstalls both patches as one


def _broker() -> StdinBroker | None:
    ctx = context_mod.current_or_none()
    if ctx is None or ctx.cell_id is None:
        return None
    return ctx.extensions.get("stdin")


def _input(prompt: object = "") -> str:
    broker = _broker()
    if broker is None:
        return _input_patch.original(prompt)
    return broker.request(str(prompt))


def _getpass(prompt: str = "Password: ", stream: Any = None) -> str:
    broker = _broker()
    if broker is None:
        return _getpass_patch.original(prompt, stream)
    return broker.request(prompt, password=True)


_input_patch = SharedPatch(builtins, "input", _input)
_getpass_patch = SharedPatch(getpass, "getpass", _getpass)


def install() -> None:
    """Route ``input()``/``getpass()`` to the current kernel (reference counted)."""
    with _install_lock:
        _input_patch.install()
        _getpass_patch.install()


def uninstall() -> None:
    """Undo one :func:`install`; the last one restores the original functions."""
    with _install_lock:
        _input_patch.uninstall()
        _getpass_patch.uninstall()
