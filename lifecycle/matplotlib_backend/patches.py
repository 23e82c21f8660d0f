"""What this package changes in matplotlib, applied when a cell first imports it.

While at least one kernel is alive (:func:`acquire` ... :func:`release`), post-import hooks
(:func:`lifecycle.import_hooks.when_imported`) wait for these modules and adjust each right
after it executed (modules imported before the first kernel are adjusted at :func:`acquire`):

* ``matplotlib``: ``rcParams["backend"]`` becomes :data:`BACKEND`, unless the environment
  sets ``MPLBACKEND`` (the user's choice wins, as with Jupyter).  No environment variable is
  set: processes a cell starts (``!python script.py``) keep their own backend.
* ``matplotlib._pylab_helpers``: ``Gcf.figs``, pyplot's figure registry, becomes a
  :class:`FigureRegistry`, a mapping that resolves to the registry of the kernel whose context
  is current (:mod:`lifecycle.context`), so kernels that are threads of one process never see
  each other's figures (figure numbers, ``gcf()``, ``close("all")``, ``show()``).  Outside
  every kernel it is pyplot's original registry.
* ``matplotlib.figure``: ``Figure._repr_mimebundle_`` renders the figure in the current
  kernel's formats (``display(fig)``, a figure as a cell's last expression), and records it as
  shown so the after-cell flush does not show it twice.  Outside a kernel it returns ``None``
  (no rich output), leaving other display systems alone.

When matplotlib was imported before the kernel started, :func:`adopt_backend` (run before a
kernel's cells) switches to :data:`BACKEND` with ``matplotlib.use`` once per process, again
unless ``MPLBACKEND`` is set.  Nothing here imports matplotlib.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from lifecycle import context as context_mod
from lifecycle import import_hooks
from lifecycle.matplotlib_backend.render import render_figure
from lifecycle.matplotlib_backend.state import OUTSIDE, current_state, kernel_state

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["BACKEND", "FigureRegistry", "acquire", "adopt_backend", "release"]

BACKEND = "module://lifecycle.matplotlib_backend"
"""The ``rcParams["backend"]`` / ``MPLBACKEND`` value that selects this backend."""

_lock = threading.RLock()
_adopted = False


class FigureRegistry(MutableMapping[Any, Any]):
    """``Gcf.figs`` replacement: every operation acts on the current kernel's registry
    (:attr:`FigureState.figs <lifecycle.matplotlib_backend.state.FigureState.figs>`), or on
    pyplot's original one outside every kernel.  Supports what ``Gcf`` uses of an
    ``OrderedDict``: item access, ``get``, ``pop``, ``clear``, ``move_to_end`` and
    reversible ``keys``/``values``/``items`` views."""

    @staticmethod
    def target() -> OrderedDict[Any, Any]:
        """The registry operations act on now."""
        return current_state().figs

    def __getitem__(self, key: Any) -> Any:
        return self.target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.target()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.target()))

    def __len__(self) -> int:
        return len(self.target())

    def __contains__(self, key: object) -> bool:
        return key in self.target()

    def __reversed__(self) -> Iterator[Any]:
        return reversed(list(self.target()))

    def __repr__(self) -> str:
        return f"FigureRegistry({self.target()!r})"

    def get(self, key: Any, default: Any = None) -> Any:
        return self.target().get(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        return self.target().pop(key, *default)

    def clear(self) -> None:
        self.target().clear()

    def keys(self) -> Any:
        return self.target().keys()

    def values(self) -> Any:
        return self.target().values()

    def items(self) -> Any:
        return self.target().items()

    def move_to_end(self, key: Any, last: bool = True) -> None:
        self.target().move_to_end(key, last)


def _figure_mimebundle(figure: Any, include: Any = None, exclude: Any = None) -> Any:
    """``Figure._repr_mimebundle_`` inside a kernel (see the module docstring)."""
    state = kernel_state(context_mod.current_or_none())
    if state is None:
        return None
    bundle, metadata = render_figure(
        figure, state.formats, state.format_kwargs, include=include, exclude=exclude
    )
    state.mark_shown(figure)
    return bundle, metadata


def _patch_matplotlib(module: ModuleType) -> None:
    global _adopted
    _adopted = True
    if not os.environ.get("MPLBACKEND"):
        module.rcParams["backend"] = BACKEND


def _patch_pylab_helpers(module: ModuleType) -> None:
    gcf = module.Gcf
    current = gcf.__dict__.get("figs")
    if isinstance(current, FigureRegistry):
        return
    if isinstance(current, OrderedDict):
        OUTSIDE.figs = current  # figures made before any kernel stay outside the kernels
    gcf.figs = FigureRegistry()


def _patch_figure(module: ModuleType) -> None:
    figure_class = module.Figure
    if "_repr_mimebundle_" not in vars(figure_class):  # matplotlib's own would win
        figure_class._repr_mimebundle_ = _figure_mimebundle


_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "matplotlib": _patch_matplotlib,
    "matplotlib._pylab_helpers": _patch_pylab_helpers,
    "matplotlib.figure": _patch_figure,
}
_hooks = import_hooks.SharedHooks(_lock)


def acquire() -> None:
    """One more kernel uses matplotlib support: adjust the modules already imported, and
    watch for the others' first import (:func:`lifecycle.import_hooks.when_imported`; the
    first user only)."""
    _hooks.acquire(_to_watch)


def _to_watch() -> Iterator[tuple[str, Callable[[ModuleType], None]]]:
    done = _applied()
    for name, patch in _PATCHES.items():
        if name in done:
            continue
        if name == "matplotlib" and import_hooks.is_imported(name):
            continue  # imported before the kernel: adopt_backend decides
        yield name, patch


def release() -> None:
    """One kernel less (at its teardown); the last one stops watching imports.  Adjusted
    modules stay adjusted: outside every kernel they behave as before."""
    _hooks.release()


def _complete(module: Any) -> bool:
    """Whether a module in ``sys.modules`` finished executing (not one being imported)."""
    if module is None:
        return False
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


def _applied() -> set[str]:
    done: set[str] = set()
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is not None and isinstance(helpers.Gcf.__dict__.get("figs"), FigureRegistry):
        done.add("matplotlib._pylab_helpers")
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and "_repr_mimebundle_" in vars(figure.Figure):
        done.add("matplotlib.figure")
    if _adopted:
        done.add("matplotlib")
    return done


def adopt_backend() -> None:
    """Select :data:`BACKEND` when matplotlib was imported before any kernel selected it
    (once per process; not if ``MPLBACKEND`` is set).  Cheap when there is nothing to do."""
    global _adopted
    if _adopted:
        return
    matplotlib = sys.modules.get("matplotlib")
    if not _complete(matplotlib):
        return
    with _lock:
        if _adopted:
            return
        _adopted = True
    assert matplotlib is not None
    if os.environ.get("MPLBACKEND") or matplotlib.get_backend(auto_select=False) == BACKEND:
        return
    matplotlib.use(BACKEND)
