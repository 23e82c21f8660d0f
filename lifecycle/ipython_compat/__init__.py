"""IPython's display API, Altair and Plotly in a kernel, without an IPython shell.

Real notebooks call ``IPython.display`` constantly; without an ``InteractiveShell`` IPython's
``display`` just prints ``repr(obj)``.  IPython stays optional: we never import it, nor
Altair, Plotly or matplotlib-inline.  Design: rather than providing a shell-like object
(IPython's ``InteractiveShell`` is large and its singleton would be shared by the kernels
that are threads of one process), the few functions IPython's display machinery funnels
through are replaced, right after the user's code first imports the module defining them,
by functions that send outputs to the kernel whose cell is running
(:mod:`lifecycle.context`), and call IPython's originals outside kernel cells:

* :mod:`~.display_shim`: ``display``, ``update_display``, ``publish_display_data`` and
  ``clear_output`` of ``IPython.core.display_functions`` -> :mod:`lifecycle.display`
  (``cell-output`` with ``display_id``, ``update-display``, ``clear-output``);
  matplotlib-inline's ``set_matplotlib_formats`` -> the kernel's figure formats.
* :mod:`~.renderers`: Altair's ``"mimetype"`` renderer and Plotly's ``"plotly_mimetype"``
  become the defaults, and ``plotly.io.show`` displays through the kernel (no IPython needed).
* :mod:`~.extension`: :func:`install` (called by ``create_kernel``) registers the post-import
  hooks (:mod:`lifecycle.import_hooks`, shared with :mod:`lifecycle.matplotlib_backend`) while
  at least one kernel is alive, and lets a cell's result with ``_ipython_display_`` show
  itself.

The IPython display protocol itself (``_repr_mimebundle_``, ``_repr_*_``,
``_ipython_display_``, an exception in a repr method shown as Jupyter shows it) is
:mod:`lifecycle.display`'s, for every object, IPython or not.  Layer: I/O services (imports
``display``, lazily ``matplotlib_backend``, and lower layers; never ``kernel_lifecycle``).
"""

from __future__ import annotations

from lifecycle.ipython_compat.display_shim import patch_display_functions, patch_matplotlib_inline
from lifecycle.ipython_compat.extension import PATCHES, acquire, install, release
from lifecycle.ipython_compat.renderers import patch_altair, patch_plotly

__all__ = [
    "PATCHES",
    "acquire",
    "install",
    "patch_altair",
    "patch_display_functions",
    "patch_matplotlib_inline",
    "patch_plotly",
    "release",
]
