"""The matplotlib backend classes (imported by matplotlib when it loads
``module://lifecycle.matplotlib_backend``, never by the kernel itself).

A backend module, as ``matplotlib.pyplot.switch_backend`` reads it: ``FigureCanvas`` (with
``manager_class``) and ``show``; pyplot derives ``new_figure_manager`` and
``draw_if_interactive`` from the canvas class (matplotlib's "backend module" API,
``matplotlib.backend_bases._Backend``).

* :class:`FigureCanvas` renders with Agg.  ``draw_idle`` (pyplot's redraw request after each
  plotting command in interactive mode) does not draw: it records the figure as changed in the
  current kernel, so that the after-cell flush shows it.
* :class:`FigureManager`: ``figure.show()`` displays that figure in the running cell;
  ``pyplot.show()`` is :func:`show`.
* :func:`show` displays every open figure of the current kernel, then closes them
  (``close_figures``).

Importing this module turns matplotlib's interactive mode on, as Jupyter does when its inline
backend loads (``plt.ioff()`` then stops the automatic after-cell display).
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from lifecycle import context as context_mod
from lifecycle.matplotlib_backend.publish import publish_figure, show_figures
from lifecycle.matplotlib_backend.state import current_state

__all__ = ["FigureCanvas", "FigureManager", "show"]


def _running_cell() -> tuple[context_mod.KernelContext, str] | None:
    ctx = context_mod.current_or_none()
    if ctx is None or ctx.cell_id is None:
        return None
    return ctx, ctx.cell_id


def show(close: bool | None = None, block: bool | None = None) -> None:
    """``pyplot.show()``: display each open figure of the current kernel (in figure order)
    as an output of the running cell, then close them all.

    Args:
        close: close the figures afterwards; ``None``: the kernel's ``close_figures``
            (default ``True``).
        block: accepted for compatibility, ignored (nothing to wait for).

    Outside a running cell (a thread still plotting after its cell ended) it does nothing:
    the figures stay open.
    """
    running = _running_cell()
    if running is None:
        return
    show_figures(running[0], running[1], close)


class FigureManager(FigureManagerBase):
    """The figure manager pyplot creates for each figure (no window)."""

    def show(self) -> None:
        """``figure.show()``: display this figure in the running cell (it stays open)."""
        running = _running_cell()
        if running is not None:
            publish_figure(running[0], running[1], self.canvas.figure)

    @classmethod
    def pyplot_show(cls, *, block: bool | None = None) -> None:
        """``pyplot.show()``: see :func:`show`."""
        show(block=block)


class FigureCanvas(FigureCanvasAgg):
    """An Agg canvas whose redraw requests mark the figure for display instead of drawing."""

    manager_class = FigureManager

    def draw_idle(self, *args: Any, **kwargs: Any) -> None:
        """Record the figure as changed in the current kernel (shown after the cell)."""
        current_state().touch(self.figure)


matplotlib.interactive(True)
