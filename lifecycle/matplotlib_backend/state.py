"""Per-kernel figure state and the inline-backend settings (``%config InlineBackend...``).

Each kernel owns one :class:`FigureState` (``context.extensions["matplotlib"]``): its pyplot
figure registry (what ``matplotlib._pylab_helpers.Gcf.figs`` resolves to while the kernel's
context is current), the figure formats and ``print_figure`` keyword arguments, whether figures
are closed after each cell, and the bookkeeping of the running cell (figures drawn, figures
already shown).  Code running outside every kernel uses :data:`OUTSIDE`.

Nothing here imports matplotlib.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from lifecycle import context as context_mod

__all__ = [
    "DEFAULT_PRINT_FIGURE_KWARGS",
    "EXTENSION_KEY",
    "INLINE_OPTIONS",
    "OUTSIDE",
    "SUPPORTED_FORMATS",
    "FigureState",
    "configure_inline_backend",
    "current_state",
    "figure_settings",
    "kernel_state",
    "set_close_figures",
    "set_figure_formats",
    "set_print_figure_kwargs",
]

EXTENSION_KEY = "matplotlib"
"""Key of a kernel's :class:`FigureState` in ``KernelContext.extensions``."""

SUPPORTED_FORMATS = frozenset({"png", "png2x", "retina", "jpg", "jpeg", "svg", "pdf"})
"""Figure formats :func:`set_figure_formats` accepts (the inline backend's names; ``retina``
and ``png2x`` are PNG at twice the figure's dpi, shown at its size)."""

DEFAULT_PRINT_FIGURE_KWARGS: Mapping[str, Any] = {"bbox_inches": "tight"}
"""``InlineBackend.print_figure_kwargs`` default: figures are cropped to their drawn content."""


class FigureState:
    """The figure state of one kernel (or of code outside every kernel).

    Attributes:
        figs: pyplot's figure registry for this kernel: figure number -> figure manager,
            the active one last (the ``OrderedDict`` ``Gcf.figs`` resolves to).
        formats: enabled figure formats, each in :data:`SUPPORTED_FORMATS`, in the order
            given (default ``("png",)``).
        format_kwargs: keyword arguments for ``FigureCanvasBase.print_figure``, bound when
            the formats were selected (``print_figure_kwargs`` plus those given to
            :func:`set_figure_formats`).
        print_figure_kwargs: ``InlineBackend.print_figure_kwargs`` (default
            ``{"bbox_inches": "tight"}``).
        close_figures: ``InlineBackend.close_figures``: close every open figure after
            showing them (at ``plt.show()`` and after each cell).  Default ``True``.
        touched: figures drawn or changed since the last flush (pyplot's interactive-mode
            redraw requests); a flush happens only if it is not empty.
        shown: figures displayed in the running cell and not changed since (not shown again
            by the flush).
        redact_tracebacks: a figure that fails to render is reported without source lines
            (run mode).
    """

    def __init__(self, figs: OrderedDict[Any, Any] | None = None) -> None:
        self.figs: OrderedDict[Any, Any] = figs if figs is not None else OrderedDict()
        self.formats: tuple[str, ...] = ("png",)
        self.print_figure_kwargs: dict[str, Any] = dict(DEFAULT_PRINT_FIGURE_KWARGS)
        self.format_kwargs: dict[str, Any] = dict(DEFAULT_PRINT_FIGURE_KWARGS)
        self.close_figures = True
        self.redact_tracebacks = False
        self._lock = threading.Lock()
        self._touched: dict[int, Any] = {}
        self._shown: dict[int, Any] = {}

    # -------------------------------------------------------------- bookkeeping
    def touch(self, figure: Any) -> None:
        """Record that ``figure`` was drawn or changed (it is shown by the next flush)."""
        with self._lock:
            self._touched[id(figure)] = figure
            self._shown.pop(id(figure), None)

    def mark_shown(self, figure: Any) -> None:
        """Record that ``figure`` was displayed as it is now (the flush skips it)."""
        with self._lock:
            self._shown[id(figure)] = figure

    def was_shown(self, figure: Any) -> bool:
        """Whether ``figure`` was displayed in this cell and has not changed since."""
        with self._lock:
            return self._shown.get(id(figure)) is figure

    def take_touched(self) -> list[Any]:
        """The figures touched since the last call, in order; forgets them and the shown set."""
        with self._lock:
            touched = list(self._touched.values())
            self._touched.clear()
            self._shown.clear()
            return touched

    def forget_shown(self) -> None:
        """Start a new cell: nothing has been shown in it yet."""
        with self._lock:
            self._shown.clear()

    def open_figures(self) -> list[Any]:
        """The figures of this registry, oldest first."""
        return [manager.canvas.figure for manager in list(self.figs.values())]

    # ---------------------------------------------------------------- settings
    def select_formats(self, formats: Iterable[str], kwargs: Mapping[str, Any]) -> None:
        """Set :attr:`formats` and :attr:`format_kwargs` (validated first).

        Raises:
            ValueError: an unknown format, or no format at all.
            TypeError: a format is not a string.
        """
        chosen: list[str] = []
        for fmt in formats:
            if not isinstance(fmt, str):
                raise TypeError(f"figure formats are strings, got {type(fmt).__name__}")
            name = fmt.lower()
            if name not in SUPPORTED_FORMATS:
                raise ValueError(
                    f"unknown figure format {fmt!r}; supported: {', '.join(sorted(SUPPORTED_FORMATS))}"
                )
            if name not in chosen:
                chosen.append(name)
        if not chosen:
            raise ValueError("at least one figure format is needed")
        self.formats = tuple(chosen)
        self.format_kwargs = dict(kwargs)


OUTSIDE = FigureState()
"""The state used outside every kernel (its ``figs`` becomes pyplot's original registry)."""


def kernel_state(ctx: context_mod.KernelContext | None) -> FigureState | None:
    """The :class:`FigureState` of a kernel context (``None``: none installed)."""
    if ctx is None:
        return None
    state = ctx.extensions.get(EXTENSION_KEY)
    return state if isinstance(state, FigureState) else None


def current_state() -> FigureState:
    """The figure state of the kernel whose context is current, else :data:`OUTSIDE`."""
    state = kernel_state(context_mod.current_or_none())
    return state if state is not None else OUTSIDE


# ----------------------------------------------------------------- public settings


def set_figure_formats(*formats: str, **kwargs: Any) -> None:
    """Choose how figures are displayed in the current kernel (what
    ``IPython.display.set_matplotlib_formats`` / ``matplotlib_inline.backend_inline.
    set_matplotlib_formats`` do in Jupyter; needs neither).

    Args:
        formats: one or more of ``"png"`` (default), ``"retina"`` / ``"png2x"`` (PNG at twice
            the figure's dpi, with ``width``/``height`` metadata of its size at 1x), ``"jpeg"``
            / ``"jpg"``, ``"svg"``, ``"pdf"``; a figure's output carries one MIME type per
            format (``retina`` replaces ``png``).  Case-insensitive.
        kwargs: extra keyword arguments for ``figure.canvas.print_figure`` (``dpi``,
            ``bbox_inches``, ``pil_kwargs``...), on top of ``print_figure_kwargs``
            (default ``{"bbox_inches": "tight"}``).

    Applies to the current kernel (outside every kernel: to figures displayed outside).

    Raises:
        ValueError: an unknown format, or none given.
        TypeError: a format is not a string.
    """
    state = current_state()
    state.select_formats(formats, {**state.print_figure_kwargs, **kwargs})


def set_print_figure_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Set ``InlineBackend.print_figure_kwargs`` for the current kernel: the keyword
    arguments every figure is rendered with (replaces the previous ones, including the
    default ``{"bbox_inches": "tight"}``; ``{}`` renders the whole canvas).  The enabled
    formats are kept.

    Raises:
        TypeError: ``kwargs`` is not a mapping with string keys.
    """
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError("print_figure_kwargs must be a dict with string keys")
    state = current_state()
    state.print_figure_kwargs = dict(kwargs)
    state.format_kwargs = dict(kwargs)


def set_close_figures(close: bool = True) -> None:
    """Set ``InlineBackend.close_figures`` for the current kernel.  ``True`` (default):
    ``plt.show()`` and the end of each cell close every open figure after showing it.
    ``False``: figures stay open (later cells can change them; a figure is shown again
    after each cell that changes it)."""
    current_state().close_figures = bool(close)


INLINE_OPTIONS = ("figure_format", "figure_formats", "print_figure_kwargs", "close_figures", "rc")
"""The ``InlineBackend`` options :func:`configure_inline_backend` knows."""


def configure_inline_backend(name: str, value: Any) -> None:
    """Apply ``%config InlineBackend.<name> = <value>`` to the current kernel (for the
    ``%config`` magic).

    ============================  ===============================================================
    ``name``                      effect
    ============================  ===============================================================
    ``figure_format``             ``set_figure_formats(value)`` (``'png'``, ``'retina'``, ``'svg'``...)
    ``figure_formats``            ``set_figure_formats(*value)`` (a set/list of formats, or one)
    ``print_figure_kwargs``       :func:`set_print_figure_kwargs`
    ``close_figures``             :func:`set_close_figures`
    ``rc``                        ``matplotlib.rcParams.update(value)`` (imports matplotlib)
    ============================  ===============================================================

    Raises:
        ValueError: an unknown option name, or a bad format.
        TypeError: a value of the wrong type.
    """
    if name == "figure_format":
        if not isinstance(value, str):
            raise TypeError("InlineBackend.figure_format must be a string such as 'png' or 'svg'")
        set_figure_formats(value)
    elif name == "figure_formats":
        formats = (value,) if isinstance(value, str) else tuple(value)
        state = current_state()
        state.select_formats(formats, state.print_figure_kwargs)
    elif name == "print_figure_kwargs":
        set_print_figure_kwargs(value)
    elif name == "close_figures":
        set_close_figures(value)
    elif name == "rc":
        if not isinstance(value, Mapping):
            raise TypeError("InlineBackend.rc must be a dict of rcParams")
        import matplotlib  # the user configures matplotlib: importing it is expected

        matplotlib.rcParams.update(value)
    else:
        raise ValueError(
            f"InlineBackend has no option {name!r}; known: {', '.join(INLINE_OPTIONS)}"
        )


def figure_settings() -> dict[str, Any]:
    """The current kernel's settings: ``{"figure_formats": [...], "print_figure_kwargs":
    {...}, "close_figures": bool}`` (what ``%config InlineBackend`` can show)."""
    state = current_state()
    return {
        "figure_formats": list(state.formats),
        "print_figure_kwargs": dict(state.print_figure_kwargs),
        "close_figures": state.close_figures,
    }
