"""The IPython magics, shell escapes and help of notebook cells, at run time.

:mod:`lifecycle.ipython_syntax` rewrites ``%magic``, ``%%magic``, ``!cmd`` and ``obj?`` into
calls of the builtin ``__amphi_magic__`` (:class:`~lifecycle.magics.runtime.MagicRuntime`),
installed when a kernel starts (:func:`install_builtin`, from
:func:`lifecycle.kernel_lifecycle.create_kernel`; a runtime closer uninstalls it).  The
builtin is process-wide and stateless: it finds the current kernel through
:mod:`lifecycle.context` and the cell's namespaces through the calling frame, so kernel
threads of one process each act on their own.

One module per family, imported on first use:

=================  ==========================================================================
``timing``         ``%time``, ``%timeit`` (``-n -r -p -q -o``), ``%%time``, ``%%timeit``
``shell``          ``!cmd``, ``x = !cmd``, ``!!cmd``, ``%sx``, ``%%bash``, ``%%sh`` (run by
                   ``processes``: on a pseudo-terminal or on pipes, as IPython runs them)
``environment``    ``%cd``, ``%pwd``, ``%env``, ``%who``, ``%whos``, ``%%writefile``,
                   ``%matplotlib``, ``%config``, ``%load_ext``, ``%autoreload``, ``%aimport``
``capture``        ``%%capture [--no-stdout] [--no-stderr] [--no-display] [name]``
``help``           ``obj?``, ``obj??``, ``%magic?``
``pip``            ``%pip`` (pip subprocess; micropip through the ``installer`` extension in Pyodide)
``rich``           ``%%html``, ``%%markdown``, ``%%latex``, ``%%svg``, ``%%javascript``
=================  ==========================================================================

``%lsmagic`` lists them.  An unknown magic raises ``UsageError: Line magic function `%foo`
not found.`` (``Cell magic `%%foo` not found.``) when its cell runs.  Output formats follow
IPython's.  Lives in the I/O-services layer: imports :mod:`lifecycle.context`,
:mod:`lifecycle.protocol`, :mod:`lifecycle.ipython_syntax`, and (lazily, for ``%config
InlineBackend`` and ``%%capture``) the matplotlib backend's public functions.
"""

from lifecycle.magics.base import MagicCall, UsageError
from lifecycle.magics.runtime import (
    RUNTIME,
    MagicRuntime,
    cell_magics,
    install_builtin,
    line_magics,
    uninstall_builtin,
)

__all__ = [
    "RUNTIME",
    "MagicCall",
    "MagicRuntime",
    "UsageError",
    "cell_magics",
    "install_builtin",
    "line_magics",
    "uninstall_builtin",
]
