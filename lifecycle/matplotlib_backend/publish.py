"""Sending figures to a cell as display outputs, and the post-execute flush.

:func:`publish_figure` renders one figure (:func:`~lifecycle.matplotlib_backend.render.
render_figure` with the kernel's formats), applies the kernel's output-size limit
(:func:`lifecycle.display.format_value`), delivers the cell's pending console output first
(what the cell printed before comes first) and emits a ``cell-output`` of kind ``display``.
A figure that fails to render becomes an error output of the cell, as Jupyter shows a
formatter's traceback, and the cell goes on.

:func:`flush_figures` is what runs after every cell (like the inline backend's post-execute
flush): if the cell drew or changed a figure, every open figure of the kernel that was not
already shown in that cell (and not changed since) is published; then, with
``close_figures`` (the default), every open figure is closed.
"""

from __future__ import annotations

import sys
from typing import Any

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.display import format_value
from lifecycle.execution import format_exception
from lifecycle.matplotlib_backend.render import render_figure
from lifecycle.matplotlib_backend.state import OUTSIDE, FigureState, kernel_state

__all__ = ["close_all", "flush_figures", "publish_figure", "show_figures"]


class _Rendered:
    """A bundle already rendered, passed through ``format_value`` for its size limit."""

    def __init__(self, bundle: dict[str, Any], metadata: dict[str, Any]) -> None:
        self._bundle = (bundle, metadata)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self._bundle


def publish_figure(ctx: context_mod.KernelContext, cell_id: str, figure: Any) -> bool:
    """Show ``figure`` as a display output of ``cell_id``.

    Args:
        ctx: the kernel's context (its settings, ``emit`` and output limit).
        cell_id: the cell the output belongs to.
        figure: a ``matplotlib.figure.Figure``.

    Returns:
        ``True`` if an output was sent, ``False`` if rendering failed (an error output was
        sent instead).
    """
    state = kernel_state(ctx) or OUTSIDE
    try:
        bundle, metadata = render_figure(figure, state.formats, state.format_kwargs)
    except Exception as exc:
        _report_failure(ctx, cell_id, exc, state)
        return False
    state.mark_shown(figure)
    data, metadata = format_value(_Rendered(bundle, metadata), max_bytes=ctx.output_max_bytes)
    flush = ctx.extensions.get("flush_console")
    if flush is not None:
        flush()
    ctx.output(data, metadata, kind="display", cell_id=cell_id)
    return True


def _report_failure(
    ctx: context_mod.KernelContext, cell_id: str, exc: BaseException, state: FigureState
) -> None:
    try:
        error = format_exception(exc)
    except Exception:  # pragma: no cover - formatting must never escape
        error = protocol.CellError(cell_id=cell_id, ename=type(exc).__name__, evalue=str(exc))
    error.cell_id = cell_id
    error.fatal = False  # shown; the cell goes on and is not marked failed (as in Jupyter)
    if state.redact_tracebacks:
        error.traceback = f"{error.ename}: {error.evalue}"
        for frame in error.frames:
            frame.line = ""
    ctx.emit(error)


def close_all() -> None:
    """``pyplot.close("all")`` for the current registry (no-op if pyplot is not imported)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def show_figures(ctx: context_mod.KernelContext, cell_id: str, close: bool | None = None) -> None:
    """Publish every open figure of the current registry, then close them all if ``close``
    (``None``: the kernel's ``close_figures``).  The kernel's context must be current."""
    state = kernel_state(ctx) or OUTSIDE
    figures = state.open_figures()
    try:
        for figure in figures:
            publish_figure(ctx, cell_id, figure)
    finally:
        if (state.close_figures if close is None else close) and figures:
            close_all()


def flush_figures(ctx: context_mod.KernelContext, cell_id: str) -> None:
    """After-cell flush for the kernel of ``ctx`` (see the module docstring).  Makes the
    kernel's context current while it runs."""
    state = kernel_state(ctx)
    if state is None:
        return
    token = context_mod.activate(ctx)
    try:
        shown = [f for f in state.open_figures() if state.was_shown(f)]
        touched = state.take_touched()
        if not touched:
            return
        if state.close_figures:
            pending = state.open_figures()
        else:
            open_ids = {id(f) for f in state.open_figures()}
            pending = [f for f in touched if id(f) in open_ids]
        try:
            for figure in pending:
                if any(figure is s for s in shown):
                    continue
                publish_figure(ctx, cell_id, figure)
        finally:
            if state.close_figures and state.figs:
                close_all()
            state.take_touched()  # rendering may have marked figures stale again
    finally:
        context_mod.deactivate(token)
