"""Jupyter widget models (``ipywidgets`` 8 / ``anywidget``) inside an amphikernel kernel.

The package: :mod:`~lifecycle.widgets.comm` (the comm class and the manager interface it talks
to), :mod:`~lifecycle.widgets.patch` (the process-wide ``comm`` patch),
:mod:`~lifecycle.widgets.manager` (:class:`WidgetManager`), :mod:`~lifecycle.widgets.assets`
(``_esm``/``_css`` files), :mod:`~lifecycle.widgets.state` (frontend state into ipywidgets
traits) and :mod:`~lifecycle.widgets.extension` (:func:`install`); imports go one way, in that
order (``assets`` and ``state`` import no sibling).  It may import the stdlib and lower
lifecycle layers (``protocol``, ``context``; ``kernel`` for type hints), and ``comm`` /
``traitlets`` lazily once a cell uses widgets; never ``kernel_lifecycle``, zmq, starlette,
uvicorn, js, pyodide, subprocess_host or pyodide_host.

A widget created in a cell (an ``anywidget.AnyWidget`` subclass, any ``ipywidgets`` widget)
talks to the page through a *comm*, as the `Jupyter widget message protocol
<https://github.com/jupyter-widgets/ipywidgets/blob/main/packages/schema/messages.md>`_
(version 2) describes.  ipywidgets creates its comms with ``comm.create_comm(...)`` and finds
the comm manager with ``comm.get_comm_manager()``; the ``comm`` package exists so that a kernel
can replace both.  This package replaces them with functions that hand out an amphikernel comm
(a ``comm.base_comm.BaseComm`` subclass) bound to the kernel whose context is current when the
comm is created, and turns the Jupyter comm messages into protocol messages.

Kernel -> frontend (``widget-model-update``, :class:`lifecycle.protocol.WidgetModelUpdate`):

=====================================================  =========================================
Jupyter message the widget publishes                   ``widget-model-update``
=====================================================  =========================================
``comm_open`` ``{"state", "buffer_paths"}`` + buffers  ``method="open"``: full ``state``
``comm_msg`` ``{"method": "update", "state", ...}``    ``method="update"``: ``state`` delta
``comm_msg`` ``{"method": "echo_update", ...}``        ``method="update"`` (see below)
``comm_msg`` ``{"method": "custom", "content"}``       ``method="custom"``: ``content``
``comm_close``                                         ``method="close"``
=====================================================  =========================================

``model_id`` is the comm id (the ``model_id`` of the widget-view MIME bundle).  Binary parts
travel as they do in Jupyter: ``buffers[i]`` (msgpack ``bin``, never base64) belongs at
``buffer_paths[i]`` inside ``state`` (for ``custom``, the buffers are the message's buffer
list and ``buffer_paths`` is empty).  ``echo_update`` is only produced when kernel code calls
``Widget.set_state`` itself; frontend changes applied through :meth:`WidgetManager.apply`
are never echoed back (the values are locked while they are set, as ipywidgets does for its
own frontend messages), so the page never receives its own change as an update.

**ES module and CSS delivery** (``_esm`` / ``_css`` in ``open`` and ``update`` states).  When
the kernel has a virtual-file store, a non-empty source string is stored as a virtual file
(``text/javascript`` / ``text/css``, owned by the cell that created the widget, so it is
released when that cell re-runs or is deleted) and the state value becomes a mapping::

    "_esm": {"url": "@file/<id>-__main__.Counter.js", "mimetype": "text/javascript"}
    "_css": {"url": "@file/<id>-__main__.Counter.css", "mimetype": "text/css"}

The frontend imports the module from the URL (``import(url)``) and links the stylesheet.
Without a store the value stays the inline source string (``typeof _esm === "string"``).
Widgets of one cell with the same source share one file.

Frontend -> kernel (``widget-model``, :class:`lifecycle.protocol.WidgetModel`): ``update``
state deltas are UI-merged by the control loop (latest value per model and key wins) and reach
:meth:`WidgetManager.apply` with the buffers already placed inline as ``bytes``; ``custom``
messages reach :meth:`WidgetManager.custom`, which calls the widget's ``on_msg`` handlers with
``(widget, content, buffers)`` (``buffers`` a list of ``memoryview``, as ipykernel gives).

**Reactivity.**  After each cell run the manager records which globals of that cell hold a
widget; a frontend update re-runs the cells that read those globals
(``kernel.graph.readers``).  Kernel-side trait changes do not re-run cells.  Widgets live as
long as the cell run that created them: when that cell re-runs or is deleted, they are closed
(``close`` notifications) and their files released.

**Patching.**  Importing this module, installing it and creating a kernel import neither
``comm`` nor ``ipywidgets``.  While at least one kernel has the extension installed,
``comm.create_comm`` and ``comm.get_comm_manager`` are replaced: at :func:`install` time if
``comm`` is already imported, otherwise by a post-import hook
(:func:`lifecycle.import_hooks.when_imported`) the moment a cell first imports ``comm``
(``import anywidget`` does).  Outside any amphikernel context the
replacements fall back to the originals.  The last kernel's teardown restores the originals
and cancels the hook.  A thread started by a cell routes its comms to the kernel only when it
is the only live kernel in the process (the context fallback of :mod:`lifecycle.context`).
"""

from __future__ import annotations

from lifecycle.widgets.extension import install
from lifecycle.widgets.manager import WIDGET_MIME, WidgetManager
from lifecycle.widgets.patch import is_patched

__all__ = ["WIDGET_MIME", "WidgetManager", "install", "is_patched"]
