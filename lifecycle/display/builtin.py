"""``display`` as a builtin while a kernel is alive, as IPython does for Jupyter kernels."""

from __future__ import annotations

import builtins

from lifecycle.display.show import display
from lifecycle.shared_patch import SharedPatch

__all__ = ["install_builtin", "uninstall_builtin"]

_builtin = SharedPatch(builtins, "display", display)


def install_builtin() -> None:
    """Make :func:`display` a builtin, as IPython does for Jupyter kernels (reference counted;
    :func:`uninstall_builtin` undoes one call, the last one restores what was there)."""
    _builtin.install()


def uninstall_builtin() -> None:
    """Undo one :func:`install_builtin`."""
    _builtin.uninstall()
