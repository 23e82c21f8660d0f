"""UI elements for notebook authors: ``from lifecycle import ui``.

This package holds the element base (:mod:`~lifecycle.ui.base`), the per-kernel registry
(:mod:`~lifecycle.ui.registry`), shared value helpers (:mod:`~lifecycle.ui.values`) and one
module per element family (``inputs``, ``choices``, ``buttons``, ``files``, ``tables``,
``forms``, ``progress_bar``); it re-exports every element here.  It may import the stdlib,
msgspec and lower lifecycle layers (``protocol``, ``context``; ``kernel`` for type hints) and
the sibling I/O service ``display``; never zmq, starlette, uvicorn, js, pyodide,
subprocess_host or pyodide_host.  Inside, imports go one way: ``registry`` <- ``base`` <- the
element families (``forms`` also imports ``buttons`` and ``progress_bar``).

An element displayed in a cell renders in the frontend as a custom element bound to the
kernel (MIME type :data:`UI_MIME`: JSON with ``id``, ``kind``, ``props`` and ``value``).
Assign it to a global; when the reader changes it, ``.value`` reflects the new value and the
cells that read that global re-run.  ``element.value = x`` in a cell updates the page (a
``ui-element-value`` notification).

Elements: :class:`slider`, :class:`number`, :class:`text`, :class:`text_area`,
:class:`checkbox`, :class:`dropdown`, :class:`radio`, :class:`button`, :class:`date`,
:class:`file`, :class:`table`, :class:`form` (batches several elements behind a submit
button) and :class:`progress` (a bar a long-running cell updates).

Values travel in a *wire* form (JSON/msgpack friendly, what the frontend sends) and a
*Python* form (``.value``); :mod:`lifecycle.ui.base` describes both, and how
:meth:`UIElement.convert` and :meth:`UIElement.coerce` check them.

Everything here is stdlib + msgspec, so it runs inside Pyodide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle.import_hooks import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.ui.base import UI_MIME, UIElement
    from lifecycle.ui.buttons import button
    from lifecycle.ui.choices import dropdown, radio
    from lifecycle.ui.files import UploadedFile, file
    from lifecycle.ui.forms import form
    from lifecycle.ui.inputs import checkbox, date, number, slider, text, text_area
    from lifecycle.ui.progress_bar import progress
    from lifecycle.ui.registry import NO_VALUE as NO_VALUE
    from lifecycle.ui.registry import UIRegistry as UIRegistry
    from lifecycle.ui.registry import registry_for as registry_for
    from lifecycle.ui.tables import TableSelection, table

# Names are loaded on first use (PEP 562): a kernel imports ``lifecycle.ui.registry`` at
# start-up, and must not pay for every element family until a cell uses one.
_HOMES = {
    "UI_MIME": "base",
    "UIElement": "base",
    "button": "buttons",
    "dropdown": "choices",
    "radio": "choices",
    "UploadedFile": "files",
    "file": "files",
    "form": "forms",
    "checkbox": "inputs",
    "date": "inputs",
    "number": "inputs",
    "slider": "inputs",
    "text": "inputs",
    "text_area": "inputs",
    "progress": "progress_bar",
    "NO_VALUE": "registry",
    "UIRegistry": "registry",
    "registry_for": "registry",
    "TableSelection": "tables",
    "table": "tables",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

# NO_VALUE, UIRegistry and registry_for stay importable from here (as before) but are not
# part of ``from lifecycle.ui import *``.
__all__ = [
    "UI_MIME",
    "TableSelection",
    "UIElement",
    "UploadedFile",
    "button",
    "checkbox",
    "date",
    "dropdown",
    "file",
    "form",
    "number",
    "progress",
    "radio",
    "slider",
    "table",
    "text",
    "text_area",
]
