"""``IPython.display`` without an IPython shell: IPython's display functions, routed to the kernel.

Without an ``InteractiveShell``, IPython's ``display`` prints ``repr(obj)`` and
``publish_display_data`` / ``clear_output`` fail or write terminal escapes.  When
``IPython.core.display_functions`` is first imported (or at install, if it already was),
:func:`patch_display_functions` replaces these functions in it:

==========================  ==========================================================
IPython function            inside a running cell of a kernel
==========================  ==========================================================
``display``                 :func:`lifecycle.display.display` (same arguments); returns
                            IPython's own ``DisplayHandle`` when ``display_id`` is given
``update_display``          :func:`lifecycle.display.update_display`
``publish_display_data``    a raw ``display`` of the bundle (``transient["display_id"]``,
                            ``update=True`` honoured)
``clear_output``            :func:`lifecycle.display.clear_output`
==========================  ==========================================================

Everything else of IPython's display API goes through these: ``DisplayHandle.display`` /
``.update`` and ``ProgressBar`` call the module's ``display`` / ``update_display``;
``display_html``, ``display_png``... and ``GeoJSON`` call ``display_functions.display``; the
display objects (``Markdown``, ``HTML``, ``Image``, ``SVG``, ``JSON``, ``Latex``, ``Math``,
``Javascript``, ``IFrame``, ``Audio``, ``Video``...) are formatted by their ``_repr_*_``
methods (:func:`lifecycle.display.format_value`).  IPython's own modules that imported a
function by name before the patch (``IPython.display``, ``IPython.core.interactiveshell``) are
re-pointed too; a name a user bound before the first kernel started keeps IPython's original.

Outside every kernel cell (no current :mod:`lifecycle.context` with a running cell, e.g. a
real IPython shell in the same process) each replacement calls IPython's original, so the
patch changes nothing there.  Kernels that are threads of one process share the patched
functions; each call finds its own kernel through the context.

``matplotlib_inline.backend_inline.set_matplotlib_formats`` is likewise routed to
:func:`lifecycle.matplotlib_backend.set_figure_formats` (:func:`patch_matplotlib_inline`).

Nothing here imports IPython: the patches receive the module IPython itself imported.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle import context as context_mod
from lifecycle import display as display_mod

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["DISPLAY_FUNCTIONS", "patch_display_functions", "patch_matplotlib_inline"]

DISPLAY_FUNCTIONS = "IPython.core.display_functions"
"""The IPython module whose functions are replaced."""
MATPLOTLIB_INLINE = "matplotlib_inline.backend_inline"
"""matplotlib-inline's backend module (its ``set_matplotlib_formats`` is replaced)."""

_ORIGINAL = "__amphi_original__"


def in_cell() -> bool:
    """Whether a kernel cell is running in this context (then IPython calls are routed)."""
    ctx = context_mod.current_or_none()
    return ctx is not None and ctx.cell_id is not None


def _display(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def display(*objs: Any, **kwargs: Any) -> Any:
        if not in_cell():
            return original(*objs, **kwargs)
        asked = kwargs.get("display_id")
        handle = display_mod.display(*objs, **kwargs)
        if handle is None or not asked:
            return None
        return module.DisplayHandle(handle.display_id)  # IPython's class, as users expect

    return display


def _update_display(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_display(obj: Any, *, display_id: str, **kwargs: Any) -> None:
        if not in_cell():
            return original(obj, display_id=display_id, **kwargs)
        display_mod.update_display(obj, display_id=display_id, **kwargs)
        return None

    return update_display


def _publish_display_data(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def publish_display_data(
        data: Any, metadata: Any = None, *, transient: Any = None, **kwargs: Any
    ) -> None:
        if not in_cell():
            return original(data, metadata, transient=transient, **kwargs)
        display_mod.display(
            data, raw=True, metadata=metadata, transient=transient,
            update=bool(kwargs.get("update")),
        )
        return None

    return publish_display_data


def _clear_output(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def clear_output(wait: bool = False) -> None:
        if not in_cell():
            return original(wait)
        display_mod.clear_output(wait=wait)
        return None

    return clear_output


_REPLACEMENTS: dict[str, Callable[[ModuleType, Callable[..., Any]], Callable[..., Any]]] = {
    "display": _display,
    "update_display": _update_display,
    "publish_display_data": _publish_display_data,
    "clear_output": _clear_output,
}


def patch_display_functions(module: ModuleType) -> None:
    """Replace IPython's display functions in ``module`` (``IPython.core.display_functions``)
    and in the already imported IPython modules that imported them by name.  Idempotent."""
    _replace(module, _REPLACEMENTS, prefix="IPython")


def _set_matplotlib_formats(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def set_matplotlib_formats(*formats: str, **kwargs: Any) -> None:
        if not in_cell():
            return original(*formats, **kwargs)
        from lifecycle.matplotlib_backend import set_figure_formats

        set_figure_formats(*formats, **kwargs)
        return None

    return set_matplotlib_formats


def patch_matplotlib_inline(module: ModuleType) -> None:
    """Route ``matplotlib_inline.backend_inline.set_matplotlib_formats`` to the kernel's
    figure formats (it needs an IPython shell otherwise).  Idempotent."""
    _replace(module, {"set_matplotlib_formats": _set_matplotlib_formats}, prefix="matplotlib_inline")


def _replace(
    module: ModuleType,
    replacements: dict[str, Callable[[ModuleType, Callable[..., Any]], Callable[..., Any]]],
    *,
    prefix: str,
) -> None:
    for name, make in replacements.items():
        original = getattr(module, name, None)
        if original is None or hasattr(original, _ORIGINAL):
            continue
        replacement = make(module, original)
        setattr(replacement, _ORIGINAL, original)
        setattr(module, name, replacement)
        for other_name, other in list(sys.modules.items()):
            if other is None or other is module or other_name.split(".")[0] != prefix:
                continue
            if getattr(other, name, None) is original:
                setattr(other, name, replacement)
