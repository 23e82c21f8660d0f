"""Installing matplotlib support into a kernel: :func:`install`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from lifecycle import context as context_mod
from lifecycle.matplotlib_backend import patches
from lifecycle.matplotlib_backend.publish import flush_figures
from lifecycle.matplotlib_backend.state import EXTENSION_KEY, FigureState, kernel_state

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.kernel import Kernel, Outcome


class FigureRuntime(Protocol):
    """What :func:`install` uses of the kernel's runtime
    (``lifecycle.kernel_lifecycle.KernelRuntime`` has it)."""

    context: context_mod.KernelContext
    closers: list[Callable[[], None]]


def _pre_execution(kernel: Kernel, cell_id: str) -> None:
    """``pre_execution`` hook: a new cell has shown nothing yet; a matplotlib imported
    before the kernel started is switched to this backend (once per process)."""
    state = kernel_state(kernel.context)
    if state is not None:
        state.forget_shown()
    patches.adopt_backend()


def _post_execution(kernel: Kernel, cell_id: str, outcome: Outcome) -> None:
    """``post_execution`` hook: the inline backend's flush, whatever the cell's outcome
    (an error, an interrupt: figures it drew are still shown, as in Jupyter)."""
    flush_figures(kernel.context, cell_id)


def install(kernel: Kernel, runtime: FigureRuntime) -> None:
    """Give ``kernel`` matplotlib support (see :mod:`lifecycle.matplotlib_backend`): its own
    :class:`~lifecycle.matplotlib_backend.state.FigureState` in ``kernel.extensions
    ["matplotlib"]``, the before-cell and after-cell hooks, and the process-wide matplotlib
    adjustments (now for modules already imported, else at their first import);
    ``runtime.closers`` undoes it at teardown.

    Cheap: imports no matplotlib.  Idempotent per kernel.
    """
    if kernel_state(kernel.context) is not None:
        return
    state = FigureState()
    state.redact_tracebacks = bool(getattr(kernel.config, "redact_tracebacks", False))
    kernel.extensions[EXTENSION_KEY] = state
    kernel.hooks.pre_execution.append(_pre_execution)
    kernel.hooks.post_execution.append(_post_execution)
    patches.acquire()

    def close() -> None:
        _forget_figures(state)
        patches.release()

    runtime.closers.append(close)


def _forget_figures(state: FigureState) -> None:
    """Drop a finished kernel's open figures (their managers hold no window)."""
    state.figs.clear()
    state.take_touched()
