"""matplotlib in a kernel, the way Jupyter's inline backend behaves.

Every kernel selects this package as matplotlib's backend (``module://lifecycle.
matplotlib_backend``) without importing matplotlib: the choice is made when a cell first
imports it (or on the first cell run, with ``matplotlib.use``, if it was imported before the
kernel started); an ``MPLBACKEND`` environment variable set by the user wins.  Then:

* ``plt.show()`` displays each open figure as an output of the running cell (``image/png``
  and ``text/plain`` = ``repr(fig)``, e.g. ``<Figure size 640x480 with 1 Axes>``) and closes
  them; ``fig.show()`` displays one figure;
* after each cell (even one that raised), if the cell drew or changed a figure, every open
  figure not already shown in that cell is displayed, then all are closed;
* ``display(fig)`` and a figure as a cell's last expression render in the kernel's formats;
  such a figure is not shown again by the after-cell flush;
* defaults are Jupyter's: matplotlib's own rc (``figure.figsize`` 6.4x4.8 in,
  ``figure.dpi`` 100, white face), images at the figure's dpi with ``bbox_inches="tight"``;
  :func:`set_figure_formats` (``set_matplotlib_formats``) and :func:`configure_inline_backend`
  (``%config InlineBackend.figure_format = 'svg'`` / ``'retina'``...) change them per kernel;
* pyplot's figure registry is per kernel, also for kernels that are threads of one process.

The package: :mod:`~.state` (per-kernel state and settings), :mod:`~.render` (a figure as a
mimebundle), :mod:`~.publish` (outputs and the after-cell flush), :mod:`~.patches` (what is
adjusted in matplotlib at its import), :mod:`~.extension` (:func:`install`, called by
``create_kernel``), and :mod:`~.backend` (the backend classes; imports matplotlib, so it is
loaded only by matplotlib, through this module's lazy ``FigureCanvas``, ``FigureManager`` and
``show`` attributes).  Imports go one way in that order.  Layer: I/O services (may import
``display`` and the lower layers; never ``kernel_lifecycle``).
"""

from __future__ import annotations

from typing import Any

from lifecycle.matplotlib_backend.extension import install
from lifecycle.matplotlib_backend.patches import BACKEND, FigureRegistry
from lifecycle.matplotlib_backend.render import render_figure
from lifecycle.matplotlib_backend.state import (
    SUPPORTED_FORMATS,
    FigureState,
    configure_inline_backend,
    current_state,
    figure_settings,
    set_close_figures,
    set_figure_formats,
    set_print_figure_kwargs,
)

__all__ = [
    "BACKEND",
    "SUPPORTED_FORMATS",
    "FigureCanvas",
    "FigureManager",
    "FigureRegistry",
    "FigureState",
    "configure_inline_backend",
    "current_state",
    "figure_settings",
    "install",
    "render_figure",
    "set_close_figures",
    "set_figure_formats",
    "set_print_figure_kwargs",
    "show",
]

_BACKEND_NAMES = ("FigureCanvas", "FigureManager", "show")


def __getattr__(name: str) -> Any:
    """The backend API (``FigureCanvas``, ``FigureManager``, ``show``) on first access:
    imports matplotlib, which only matplotlib itself asks for when it loads this backend.
    The names are then bound in this module (``switch_backend`` reads ``vars(module)``)."""
    if name not in _BACKEND_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from lifecycle.matplotlib_backend import backend

    namespace = globals()
    for exported in _BACKEND_NAMES:
        namespace[exported] = getattr(backend, exported)
    return namespace[name]
