"""Installing IPython compatibility into a kernel: :func:`install`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from lifecycle import import_hooks
from lifecycle.display import ipython_display
from lifecycle.ipython_compat import display_shim, renderers

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["PATCHES", "acquire", "install", "release"]

PATCHES: dict[str, Callable[[ModuleType], None]] = {
    display_shim.DISPLAY_FUNCTIONS: display_shim.patch_display_functions,
    display_shim.MATPLOTLIB_INLINE: display_shim.patch_matplotlib_inline,
    renderers.ALTAIR: renderers.patch_altair,
    renderers.PLOTLY_RENDERERS: renderers.patch_plotly,
}
"""Module name -> what is adjusted in it right after its first import."""

_hooks = import_hooks.SharedHooks()


class CompatRuntime(Protocol):
    """What :func:`install` uses of the kernel's runtime
    (``lifecycle.kernel_lifecycle.KernelRuntime`` has it)."""

    closers: list[Callable[[], None]]


def acquire() -> None:
    """One more kernel uses IPython compatibility: adjust the modules of :data:`PATCHES`
    already imported, and watch for the others' first import (the first user only)."""
    _hooks.acquire(PATCHES.items)


def release() -> None:
    """One kernel less; the last one stops watching imports.  Adjusted modules stay
    adjusted: outside every kernel cell they behave as without us."""
    _hooks.release()


def install(kernel: Any, runtime: CompatRuntime) -> None:
    """Give ``kernel`` IPython compatibility (see :mod:`lifecycle.ipython_compat`): a cell's
    result with ``_ipython_display_`` shows itself (``kernel.extensions["ipython_display"]``),
    and the process-wide adjustments of IPython, matplotlib-inline, Altair and Plotly are
    made now for modules already imported, else at their first import; ``runtime.closers``
    undoes the watching at teardown.  Imports none of those libraries.  Idempotent per
    kernel."""
    if kernel.extensions.get("ipython_display") is ipython_display:
        return
    kernel.extensions["ipython_display"] = ipython_display
    acquire()
    runtime.closers.append(release)
