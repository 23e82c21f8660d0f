"""Installing widget support into a kernel: :func:`install`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from lifecycle import context as context_mod
from lifecycle.widgets.manager import WidgetManager
from lifecycle.widgets.patch import _acquire

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.kernel import Kernel


class WidgetRuntime(Protocol):
    """What :func:`install` uses of the kernel's runtime
    (``lifecycle.kernel_lifecycle.KernelRuntime`` has it)."""

    context: context_mod.KernelContext
    """The kernel's context (its ``emit`` and virtual-file store)."""
    closers: list[Callable[[], None]]
    """Called at the kernel's teardown."""


def install(kernel: Kernel, runtime: WidgetRuntime) -> None:
    """Give ``kernel`` widget models: ``kernel.extensions["widgets"]`` becomes a
    :class:`WidgetManager`, ``comm`` is patched (now or at its first import), and
    ``runtime.closers`` closes the kernel's comms and releases the patch at teardown.

    Cheap: imports neither ``comm`` nor ``ipywidgets``.  Idempotent per kernel.
    """
    if isinstance(kernel.extensions.get("widgets"), WidgetManager):
        return
    manager = WidgetManager(kernel, runtime.context)
    kernel.extensions["widgets"] = manager
    _acquire()
    runtime.closers.append(manager.close)
