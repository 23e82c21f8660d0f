"""Chart libraries render to MIME types the page draws itself (no CDN, no browser window).

Outside Jupyter, Altair's ``"default"`` renderer is HTML that loads Vega from a CDN, and
Plotly, finding no IPython shell, picks ``"browser"`` (opens a browser window on the machine
running the kernel) or nothing (``_repr_html_`` loading plotly.js from a CDN).  A kernel's page
draws ``application/vnd.vegalite.v*+json`` and ``application/vnd.plotly.v1+json`` itself, so at
the libraries' first import (post-import hooks; nothing here imports them):

* ``altair``: if the active renderer is ``"default"``, the ``"mimetype"`` renderer is enabled
  (``alt.renderers.enable("mimetype")``): a chart gives a Vega-Lite spec + ``text/plain``.
* ``plotly.io._renderers``: unless ``PLOTLY_RENDERER`` is set (the user's choice wins, as in
  Plotly), a default renderer Plotly chose for want of a shell (none, or ``"browser"``) becomes
  ``"plotly_mimetype"``.  And ``plotly.io.show`` (``fig.show()``, and a figure's
  ``_ipython_display_``) shows the figure's MIME bundle as a display output of the running
  cell directly, so it needs neither IPython nor nbformat (Plotly's own ``show`` requires
  both for MIME renderers); external renderers (``"browser"``...) still run.  Outside kernel
  cells Plotly's ``show`` is called unchanged.

These are process-wide settings of the libraries (the same for every kernel of a process),
made through the environment-free APIs so child processes a cell starts are unaffected.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle import display as display_mod
from lifecycle.ipython_compat.display_shim import in_cell

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["ALTAIR", "PLOTLY_RENDERERS", "patch_altair", "patch_plotly"]

ALTAIR = "altair"
PLOTLY_RENDERERS = "plotly.io._renderers"
PLOTLY_MIMETYPE = "plotly_mimetype"
_SHELL_LESS_CHOICES = (None, "", "browser")
_ORIGINAL = "__amphi_original__"


def patch_altair(module: ModuleType) -> None:
    """Enable Altair's ``"mimetype"`` renderer if the active one is ``"default"``."""
    renderers = getattr(module, "renderers", None)
    if renderers is not None and getattr(renderers, "active", None) == "default":
        renderers.enable("mimetype")


def patch_plotly(module: ModuleType) -> None:
    """Choose ``"plotly_mimetype"`` and route ``show`` (see the module docstring).
    Idempotent."""
    renderers = getattr(module, "renderers", None)
    if renderers is None:
        return
    if not os.environ.get("PLOTLY_RENDERER") and renderers.default in _SHELL_LESS_CHOICES:
        renderers.default = PLOTLY_MIMETYPE
    original = getattr(module, "show", None)
    usable = all(
        hasattr(renderers, name) for name in ("_build_mime_bundle", "_perform_external_rendering")
    ) and hasattr(module, "validate_coerce_fig_to_dict")
    if original is None or hasattr(original, _ORIGINAL) or not usable:
        return  # another Plotly version: its own show stays
    show = _show(module, original)
    setattr(show, _ORIGINAL, original)
    module.show = show


def _show(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def show(fig: Any, renderer: str | None = None, validate: bool = True, **kwargs: Any) -> None:
        if not in_cell():
            return original(fig, renderer=renderer, validate=validate, **kwargs)
        fig_dict = module.validate_coerce_fig_to_dict(fig, validate)
        renderers = module.renderers
        bundle = renderers._build_mime_bundle(fig_dict, renderers_string=renderer, **kwargs)
        if bundle:
            display_mod.display(bundle, raw=True)
        renderers._perform_external_rendering(fig_dict, renderers_string=renderer, **kwargs)
        return None

    return show
