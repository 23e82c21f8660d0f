"""Values to mimebundles, following the IPython display protocol; ``display()`` and helpers.

This package holds the formatter :func:`format_value` (:mod:`.formatting`; how its problems
reach the user: :mod:`.reporting`), :func:`display`, :func:`update_display`,
:func:`clear_output` and :class:`DisplayHandle` (:mod:`.show`, IPython's signatures), the
installation of ``display`` as a builtin (:mod:`.builtin`) and the author helpers :func:`md`,
:func:`html` (:mod:`.markup`) and :func:`image` (:mod:`.images`).  ``IPython.display`` itself
is routed here inside kernels by :mod:`lifecycle.ipython_compat`.  It may import the
standard library, msgspec and lower lifecycle layers (:mod:`lifecycle.context`), plus the sibling
I/O services :mod:`lifecycle.pretty` and (lazily) :mod:`lifecycle.virtual_files`; never zmq,
starlette, uvicorn, js, pyodide, subprocess_host or pyodide_host.

Author helpers: :func:`display` (send outputs from inside a cell), :func:`md`, :func:`html` and
:func:`image` (objects that display as Markdown, HTML and images).  As in Jupyter, ``display``
is a builtin while a kernel is alive (:func:`install_builtin`): cells call it without an import.

Everything here is stdlib + msgspec, so it runs inside Pyodide.

:func:`install_builtin` and :func:`uninstall_builtin` (used by
:func:`lifecycle.kernel_lifecycle.create_kernel`) are importable from here but, as before, not
part of ``__all__``.
"""

from __future__ import annotations

from lifecycle.display.builtin import install_builtin as install_builtin
from lifecycle.display.builtin import uninstall_builtin as uninstall_builtin
from lifecycle.display.formatting import BINARY_MIMETYPES as BINARY_MIMETYPES
from lifecycle.display.formatting import (
    DEFAULT_OUTPUT_MAX_BYTES,
    REPR_METHODS,
    format_value,
    ipython_display,
    is_displayable_result,
)
from lifecycle.display.images import LARGE_IMAGE_BYTES, Image, image
from lifecycle.display.markup import Html, Markdown, html, md
from lifecycle.display.show import (
    DisplayHandle,
    clear_output,
    display,
    new_display_id,
    update_display,
)

__all__ = [
    "DEFAULT_OUTPUT_MAX_BYTES",
    "LARGE_IMAGE_BYTES",
    "REPR_METHODS",
    "DisplayHandle",
    "Html",
    "Image",
    "Markdown",
    "clear_output",
    "display",
    "format_value",
    "html",
    "image",
    "ipython_display",
    "is_displayable_result",
    "md",
    "new_display_id",
    "update_display",
]
