"""The runtime context that code running inside a cell can reach.

Each kernel owns one :class:`KernelContext`.  While a cell runs, the kernel makes its context
current (a :class:`contextvars.ContextVar`, so several kernels in several threads of one
process each see their own); author helpers such as ``display()``, ``download()`` and UI
elements find the kernel, the running cell and the virtual-file store through
:func:`current`.  Threads started by a cell do not inherit context variables, so the context
that was made current last in the process serves as a fallback while exactly one kernel is
alive (the subprocess and Pyodide hosts).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable
from typing import Any

from lifecycle import protocol

Emit = Callable[[Any], None]
"""Sends one notification to the host.  Hosts must make it safe to call from any thread."""


class NoKernelContextError(RuntimeError):
    """Raised by :func:`current` outside a running amphikernel cell."""


class KernelContext:
    """Per-kernel state reachable from cell code.

    Args:
        emit: sends a notification (a :mod:`lifecycle.protocol` struct) to the host; must be
            thread-safe.
        virtual_files: the kernel's virtual-file store, or ``None`` when disabled.
        output_max_bytes: outputs larger than this (bytes, summed over the bundle) are
            replaced by a notice.
        kernel_id: an identifier for logs.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        emit: Emit,
        *,
        virtual_files: Any = None,
        output_max_bytes: int = 10_000_000,
        kernel_id: str | None = None,
    ) -> None:
        self.emit = emit
        self.virtual_files = virtual_files
        self.output_max_bytes = output_max_bytes
        self.kernel_id = kernel_id or f"kernel-{next(self._ids)}"
        self.cell_id: str | None = None
        self.extensions: dict[str, Any] = {}
        """Per-kernel state of optional subsystems (UI registry, widget manager, ...)."""

    def output(
        self,
        data: protocol.MimeBundle,
        metadata: dict[str, Any] | None = None,
        *,
        kind: str = "display",
        cell_id: str | None = None,
    ) -> None:
        """Send one output (a mimebundle) for ``cell_id`` (default: the running cell)."""
        target = cell_id if cell_id is not None else self.cell_id
        if target is None:
            raise NoKernelContextError("display() called while no cell is running")
        self.emit(
            protocol.CellOutput(cell_id=target, data=data, metadata=metadata or {}, kind=kind)  # type: ignore[arg-type]
        )


_current: contextvars.ContextVar[KernelContext | None] = contextvars.ContextVar(
    "amphikernel_context", default=None
)
_fallback_lock = threading.Lock()
_alive: list[KernelContext] = []


def activate(ctx: KernelContext) -> contextvars.Token[KernelContext | None]:
    """Make ``ctx`` current in this thread/task; returns the token for :func:`deactivate`."""
    return _current.set(ctx)


def deactivate(token: contextvars.Token[KernelContext | None]) -> None:
    """Undo :func:`activate`."""
    _current.reset(token)


def register(ctx: KernelContext) -> None:
    """Record a live kernel context (used as the fallback for threads a cell starts)."""
    with _fallback_lock:
        _alive.append(ctx)


def unregister(ctx: KernelContext) -> None:
    """Forget a kernel context (at teardown)."""
    with _fallback_lock:
        if ctx in _alive:
            _alive.remove(ctx)


def current_or_none() -> KernelContext | None:
    """The current kernel context, the only live one as a fallback, or ``None``."""
    ctx = _current.get()
    if ctx is not None:
        return ctx
    with _fallback_lock:
        return _alive[0] if len(_alive) == 1 else None


def current() -> KernelContext:
    """The current kernel context.

    Raises:
        NoKernelContextError: not inside a cell of an amphikernel kernel.
    """
    ctx = current_or_none()
    if ctx is None:
        raise NoKernelContextError("not running inside an amphikernel cell")
    return ctx
