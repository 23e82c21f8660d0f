"""Jupyter widget models (``ipywidgets`` 8 / ``anywidget``) inside an amphikernel kernel.

A widget created in a cell (an ``anywidget.AnyWidget`` subclass, any ``ipywidgets`` widget)
talks to the page through a *comm*, as the `Jupyter widget message protocol
<https://github.com/jupyter-widgets/ipywidgets/blob/main/packages/schema/messages.md>`_
(version 2) describes.  ipywidgets creates its comms with ``comm.create_comm(...)`` and finds
the comm manager with ``comm.get_comm_manager()``; the ``comm`` package exists so that a kernel
can replace both.  This module replaces them with functions that hand out an amphikernel comm
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
``comm`` is already imported, otherwise by a one-shot ``sys.meta_path`` hook the moment a cell
first imports ``comm`` (``import anywidget`` does).  Outside any amphikernel context the
replacements fall back to the originals.  The last kernel's teardown restores the originals
and removes the hook.  A thread started by a cell routes its comms to the kernel only when it
is the only live kernel in the process (the context fallback of :mod:`lifecycle.context`).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.abc
import logging
import re
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle import context as context_mod
from lifecycle import protocol

if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from lifecycle.kernel import Kernel, Outcome
    from lifecycle.kernel_lifecycle import KernelRuntime

log = logging.getLogger("amphikernel.widgets")

__all__ = ["WIDGET_MIME", "WidgetManager", "install", "is_patched"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
"""MIME type of a displayed widget: ``{"model_id", "version_major": 2, "version_minor"}``."""

_ASSETS: dict[str, tuple[str, str]] = {"_esm": ("js", "text/javascript"), "_css": ("css", "text/css")}
"""State keys delivered as virtual files: key -> (file extension, MIME type)."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


# ----------------------------------------------------------------------------- the comm


_comm_class: type | None = None


def _amphi_comm_class() -> type:
    """The amphikernel comm class (defined on first use: it subclasses ``comm``'s BaseComm)."""
    global _comm_class
    if _comm_class is not None:
        return _comm_class
    from comm.base_comm import BaseComm

    class AmphiComm(BaseComm):  # type: ignore[misc]
        """A comm whose messages become amphikernel protocol notifications.

        Args (keyword, besides ``BaseComm``'s ``target_name``, ``data``, ``metadata``,
        ``buffers``, ``comm_id``, ``primary``):
            manager: the :class:`WidgetManager` of the kernel that owns the comm.
        """

        def __init__(self, *args: Any, manager: WidgetManager, **kwargs: Any) -> None:
            self.manager = manager
            self.owner: str | None = manager.creating_cell()
            self.widget: Any = None
            super().__init__(*args, **kwargs)

        @property
        def kernel(self) -> WidgetManager | None:
            """ipywidgets sends nothing through a comm whose ``kernel`` is ``None``: that is
            the case once the owning kernel has been torn down."""
            return None if self.manager.closed else self.manager

        def publish_msg(
            self,
            msg_type: str,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[Any] | None = None,
            **keys: Any,
        ) -> None:
            self.manager._publish(self, msg_type, data, buffers)

        def open(
            self,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[Any] | None = None,
        ) -> None:
            # Like BaseComm.open, with this comm's own manager rather than the global lookup.
            if data is None:
                data = self._open_data
            self.manager.register_comm(self)
            try:
                self.publish_msg(
                    "comm_open", data=data, metadata=metadata, buffers=buffers,
                    target_name=self.target_name, target_module=self.target_module,
                )
                self._closed = False
            except BaseException:
                self.manager.unregister_comm(self)
                raise

        def close(
            self,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[Any] | None = None,
            deleting: bool = False,
        ) -> None:
            if self._closed:
                return
            self._closed = True
            try:
                self.publish_msg(
                    "comm_close",
                    data=self._close_data if data is None else data,
                    metadata=metadata,
                    buffers=buffers,
                )
            finally:
                self.manager.unregister_comm(self)

        def on_msg(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
            super().on_msg(callback)
            owner = getattr(callback, "__self__", None)
            if owner is not None:
                self.widget = owner
                self.manager._attach_widget(self)

        def handle_msg(self, msg: dict[str, Any]) -> None:
            # BaseComm.handle_msg imports IPython to fire its events; nothing to fire here.
            if self._msg_callback is not None:
                self._msg_callback(msg)

    _comm_class = AmphiComm
    return AmphiComm


# -------------------------------------------------------------------------- the manager


class WidgetManager:
    """Widget models of one kernel (``kernel.extensions["widgets"]``).

    It is also the kernel's comm manager (what the patched ``comm.get_comm_manager()``
    returns inside the kernel): ``comms``, ``targets``, ``register_comm``, ``unregister_comm``,
    ``get_comm``, ``register_target``, ``unregister_target``.

    Args:
        kernel: the kernel; the manager adds its own pre/post execution hooks.
        ctx: the kernel's context (its ``emit`` and virtual-file store are used).
    """

    def __init__(self, kernel: Kernel, ctx: context_mod.KernelContext) -> None:
        self._kernel = weakref.ref(kernel)
        self.ctx = ctx
        self.closed = False
        self._lock = threading.RLock()
        self.comms: dict[str, Any] = {}
        self.targets: dict[str, Any] = {}
        self._owned: dict[str | None, list[str]] = {}  # creating cell -> model ids
        self._by_widget: dict[int, str] = {}  # id(widget) -> model id
        self._bindings: dict[str, set[tuple[str, str]]] = {}  # model id -> {(cell, global)}
        self._names: dict[str, str] = {}  # model id -> asset file stem
        self._model_assets: dict[str, dict[str, tuple[str | None, str, str]]] = {}
        self._assets: dict[tuple[str | None, str, str], list[Any]] = {}  # key -> [url, refs]
        kernel.hooks.pre_execution.append(self._before_cell)
        kernel.hooks.post_execution.append(self._after_cell)
        kernel.extensions.setdefault("cell_removed_hooks", []).append(self.forget_cell)

    # ------------------------------------------------------- comm manager interface
    def create_comm(self, *args: Any, **kwargs: Any) -> Any:
        """A new amphikernel comm of this kernel (``comm.create_comm`` arguments)."""
        return _amphi_comm_class()(*args, manager=self, **kwargs)

    def creating_cell(self) -> str | None:
        """The cell that owns a comm created now: the running cell when this kernel's
        context is current in the calling thread/task, ``None`` for a thread a cell started
        (its comms live until the kernel's teardown or until closed)."""
        return self.ctx.cell_id if context_mod._current.get() is self.ctx else None

    def register_comm(self, comm: Any) -> str:
        """Register a comm (called when it opens); returns its id."""
        with self._lock:
            self.comms[comm.comm_id] = comm
            self._owned.setdefault(comm.owner, []).append(comm.comm_id)
        return comm.comm_id

    def unregister_comm(self, comm: Any) -> None:
        """Forget a comm (called when it closes) and release its files and bindings."""
        with self._lock:
            if self.comms.get(comm.comm_id) is not comm:
                return
            del self.comms[comm.comm_id]
            model_id = comm.comm_id
            owned = self._owned.get(comm.owner)
            if owned is not None and model_id in owned:
                owned.remove(model_id)
                if not owned:
                    del self._owned[comm.owner]
            if comm.widget is not None and self._by_widget.get(id(comm.widget)) == model_id:
                del self._by_widget[id(comm.widget)]
            self._bindings.pop(model_id, None)
            self._names.pop(model_id, None)
            for key in self._model_assets.pop(model_id, {}).values():
                self._drop_asset(key)
            comm.widget = None

    def get_comm(self, comm_id: str) -> Any:
        """The open comm with that id, or ``None``."""
        return self.comms.get(comm_id)

    def register_target(self, target_name: str, f: Any) -> None:
        """Record a comm target (frontend-opened comms are not part of the protocol)."""
        self.targets[target_name] = f

    def unregister_target(self, target_name: str, f: Any = None) -> Any:
        """Forget a comm target."""
        return self.targets.pop(target_name, None)

    # ----------------------------------------------------------------- kernel side
    def _attach_widget(self, comm: Any) -> None:
        with self._lock:
            if self.comms.get(comm.comm_id) is comm:
                self._by_widget[id(comm.widget)] = comm.comm_id

    def _publish(
        self, comm: Any, msg_type: str, data: dict[str, Any] | None, buffers: list[Any] | None
    ) -> None:
        """Turn one Jupyter comm message of ``comm`` into a ``widget-model-update``."""
        if self.closed:
            return
        data = data or {}
        bufs = [bytes(b) for b in buffers or ()]
        model_id = comm.comm_id
        note: protocol.WidgetModelUpdate | None = None
        if msg_type == "comm_open":
            state = dict(data.get("state") or {})
            name = state.get("_anywidget_id") or state.get("_model_name") or "widget"
            stem = _UNSAFE_NAME.sub("_", str(name))
            stem = re.sub(r"\.{2,}", ".", stem).strip(".")[:120] or "widget"
            with self._lock:
                self._names[model_id] = stem
            note = protocol.WidgetModelUpdate(
                model_id=model_id, method="open", state=self._externalise(comm, state),
                buffer_paths=list(data.get("buffer_paths") or []), buffers=bufs,
            )
        elif msg_type == "comm_msg":
            method = data.get("method")
            if method in ("update", "echo_update"):
                note = protocol.WidgetModelUpdate(
                    model_id=model_id, method="update",
                    state=self._externalise(comm, dict(data.get("state") or {})),
                    buffer_paths=list(data.get("buffer_paths") or []), buffers=bufs,
                )
            elif method == "custom":
                note = protocol.WidgetModelUpdate(
                    model_id=model_id, method="custom", content=data.get("content"), buffers=bufs
                )
            else:
                log.debug("widget %s: ignoring comm_msg method %r", model_id, method)
        elif msg_type == "comm_close":
            note = protocol.WidgetModelUpdate(model_id=model_id, method="close")
        if note is not None:
            self.ctx.emit(note)

    def _externalise(self, comm: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Replace ``_esm``/``_css`` sources by virtual-file references when possible."""
        store = self.ctx.virtual_files
        if store is None:
            return state
        for key, (ext, mimetype) in _ASSETS.items():
            source = state.get(key)
            if isinstance(source, str) and source:
                url = self._asset_url(store, comm, key, source, ext, mimetype)
                if url is not None:
                    state[key] = {"url": url, "mimetype": mimetype}
        return state

    def _asset_url(
        self, store: Any, comm: Any, key: str, source: str, ext: str, mimetype: str
    ) -> str | None:
        model_id = comm.comm_id
        payload = source.encode("utf-8")
        asset = (comm.owner, key, hashlib.sha256(payload).hexdigest())
        with self._lock:
            per_model = self._model_assets.setdefault(model_id, {})
            previous = per_model.get(key)
            entry = self._assets.get(asset)
            if entry is not None and entry[0] in store:
                if previous == asset:
                    return entry[0]
                entry[1] += 1
            else:
                try:
                    file = store.create(
                        payload, f"{self._names.get(model_id, 'widget')}.{ext}", mimetype,
                        owner=comm.owner,
                    )
                except Exception as exc:  # store shut down, bad name...: deliver inline
                    log.warning("widget %s: %s kept inline (%r)", model_id, key, exc)
                    return None
                if previous == asset:  # the owner re-ran and its file was released
                    previous = None
                entry = self._assets[asset] = [file.url, 1]
            per_model[key] = asset
            if previous is not None:
                self._drop_asset(previous)
            return entry[0]

    def _drop_asset(self, asset: tuple[str | None, str, str]) -> None:
        entry = self._assets.get(asset)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._assets[asset]
            store = self.ctx.virtual_files
            if store is not None and not store.closed:
                store.release(entry[0])

    # ------------------------------------------------------------ execution hooks
    def _before_cell(self, kernel: Kernel, cell_id: str) -> None:
        self._close_owned(cell_id)
        with self._lock:
            for bound in self._bindings.values():
                bound.difference_update({b for b in bound if b[0] == cell_id})

    def _after_cell(self, kernel: Kernel, cell_id: str, outcome: Outcome) -> None:
        node = kernel.graph.cells.get(cell_id)
        if node is None or not self._by_widget:
            return
        g = kernel.globals
        with self._lock:
            for name in node.analysis.defs:
                value = g.get(name)
                model_id = self._by_widget.get(id(value))
                if model_id is None:
                    continue
                comm = self.comms.get(model_id)
                if comm is not None and comm.widget is value:
                    self._bindings.setdefault(model_id, set()).add((cell_id, name))

    def forget_cell(self, cell_id: str) -> None:
        """A cell was deleted: close the widgets it created and drop its bindings."""
        self._close_owned(cell_id)
        with self._lock:
            for bound in self._bindings.values():
                bound.difference_update({b for b in bound if b[0] == cell_id})

    def _close_owned(self, cell_id: str | None) -> None:
        with self._lock:
            comms = [self.comms[m] for m in self._owned.get(cell_id, ()) if m in self.comms]
            for asset in [a for a in self._assets if a[0] == cell_id]:
                if self._assets[asset][0] not in (self.ctx.virtual_files or ()):
                    del self._assets[asset]  # released with its owner's files
        for comm in comms:
            _close_comm(comm)

    # ---------------------------------------------------------------- frontend side
    def _open_comm(self, model_id: str) -> Any:
        comm = self.comms.get(model_id)
        if comm is None or self.closed:
            raise LookupError(f"no widget model with id {model_id!r}")
        return comm

    def apply(self, model_id: str, state: dict[str, Any]) -> set[str]:
        """Apply a frontend state delta (binary buffers already inline as ``bytes``).

        All synced traits named in ``state`` are converted (the trait's ``from_json``) and set
        together; a value a trait rejects rolls every one of them back.  Keys that are not
        synced traits are ignored, as ipywidgets does.  The new values are not sent back.

        Args:
            model_id: the widget's model id (comm id).
            state: trait name -> JSON value (bytes for binary traits); possibly merged from
                several ``widget-model`` updates.

        Returns:
            The ids of the cells to re-run: readers of globals bound to the widget.

        Raises:
            LookupError: no open widget model with that id.
            ValueError: a value a trait does not accept (names the model and the trait);
                nothing changed.
        """
        comm = self._open_comm(model_id)
        widget = comm.widget
        token = context_mod.activate(self.ctx)
        try:
            widget_class = _ipywidget_class()
            if widget_class is not None and isinstance(widget, widget_class):
                _set_widget_state(model_id, widget, state)
            else:
                comm.handle_msg({
                    "content": {"comm_id": model_id, "data": {"method": "update", "state": state, "buffer_paths": []}},
                    "buffers": [],
                })
        finally:
            context_mod.deactivate(token)
        return self._readers(model_id)

    def custom(self, cmd: protocol.WidgetModel) -> set[str]:
        """Deliver a frontend custom message to the widget's ``on_msg`` handlers.

        Handlers are called as ``handler(widget, content, buffers)`` with ``buffers`` a list
        of ``memoryview``; when ``cmd.buffer_paths`` is given, the buffers are also placed
        (as ``bytes``) into a copy of ``content`` at those paths.

        Returns:
            Cells to re-run: none (a custom message is not a state change).

        Raises:
            LookupError: no open widget model with ``cmd.model_id``.
            RuntimeError: a handler raised (the other handlers still ran); chained to the
                handler's exception.
        """
        comm = self._open_comm(cmd.model_id)
        content = cmd.content
        if cmd.buffer_paths and isinstance(content, (dict, list)):
            content = copy.deepcopy(content)
            for path, buf in zip(cmd.buffer_paths, cmd.buffers):
                if path:
                    target = content
                    for part in path[:-1]:
                        target = target[part]
                    target[path[-1]] = buf
        views = [memoryview(b) for b in cmd.buffers]
        widget = comm.widget
        token = context_mod.activate(self.ctx)
        try:
            widget_class = _ipywidget_class()
            dispatcher = getattr(widget, "_msg_callbacks", None)
            plain = (
                widget_class is not None
                and isinstance(widget, widget_class)
                and type(widget)._handle_custom_msg is widget_class._handle_custom_msg
                and isinstance(getattr(dispatcher, "callbacks", None), list)
            )
            if not plain:
                comm.handle_msg({
                    "content": {"comm_id": cmd.model_id, "data": {"method": "custom", "content": content}},
                    "buffers": views,
                })
                return set()
            # ipywidgets' dispatcher only logs handler errors; report them instead.
            failures: list[tuple[Any, Exception]] = []
            for callback in list(dispatcher.callbacks):
                try:
                    callback(widget, content, views)
                except Exception as exc:
                    failures.append((callback, exc))
        finally:
            context_mod.deactivate(token)
        if failures:
            callback, exc = failures[0]
            name = getattr(callback, "__qualname__", repr(callback))
            raise RuntimeError(
                f"widget model {cmd.model_id!r}: on_msg handler {name} raised {type(exc).__name__}: {exc}"
            ) from exc
        return set()

    def _readers(self, model_id: str) -> set[str]:
        kernel = self._kernel()
        if kernel is None:
            return set()
        roots: set[str] = set()
        with self._lock:
            bound = list(self._bindings.get(model_id, ()))
        for cell_id, name in bound:
            if cell_id in kernel.graph:
                roots |= kernel.graph.readers(cell_id, name)
        return roots

    # -------------------------------------------------------------------- teardown
    def close(self) -> None:
        """Close every comm of this kernel (no ``close`` notifications are sent), drop all
        references and release the process-wide patch (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            with self._lock:
                comms = list(self.comms.values())
            for comm in comms:
                _close_comm(comm)
            with self._lock:
                self.comms.clear()
                self.targets.clear()
                self._owned.clear()
                self._by_widget.clear()
                self._bindings.clear()
                self._names.clear()
                self._model_assets.clear()
                self._assets.clear()
            kernel = self._kernel()
            if kernel is not None and kernel.extensions.get("widgets") is self:
                del kernel.extensions["widgets"]
        finally:
            _release()


def _close_comm(comm: Any) -> None:
    """Close a comm through its widget when it has one (ipywidgets then forgets the widget)."""
    widget = comm.widget
    try:
        if widget is not None and getattr(widget, "comm", None) is comm and callable(getattr(widget, "close", None)):
            widget.close()
        else:
            comm.close()
    except Exception:
        log.exception("closing widget comm %s failed", comm.comm_id)
        comm.manager.unregister_comm(comm)


def _ipywidget_class() -> type | None:
    module = sys.modules.get("ipywidgets.widgets.widget")
    return getattr(module, "Widget", None) if module is not None else None


def _set_widget_state(model_id: str, widget: Any, state: dict[str, Any]) -> None:
    """Set synced traits from frontend JSON state, atomically and without echo."""
    from traitlets import TraitError

    synced = set(widget.keys)
    converted: dict[str, Any] = {}
    for name, raw in state.items():
        if name not in synced:
            continue
        try:
            from_json = widget.trait_metadata(name, "from_json", widget._trait_from_json)
            converted[name] = from_json(raw, widget)
        except Exception as exc:
            raise ValueError(
                f"widget model {model_id!r} ({type(widget).__name__}): invalid value for "
                f"trait {name!r}: {exc}"
            ) from None
    if not converted:
        return
    failing: list[str] = []
    locked = {name: state[name] for name in converted}
    lock_property = getattr(widget, "_lock_property", None)
    try:
        with widget.hold_sync():
            if lock_property is None:  # pragma: no cover - every ipywidgets 8 has it
                widget.set_state(locked)
                return
            # Lock the values (they are not sent back), hold notifications (a TraitError
            # rolls every trait set here back), as ipywidgets' own set_state does.
            with lock_property(**locked), widget.hold_trait_notifications():
                for name, value in converted.items():
                    failing[:] = [name]
                    widget.set_trait(name, value)
                failing.clear()
    except TraitError as exc:
        which = f"trait {failing[0]!r}" if failing else "traits " + ", ".join(map(repr, converted))
        raise ValueError(
            f"widget model {model_id!r} ({type(widget).__name__}): invalid value for {which}: {exc}"
        ) from None


# ---------------------------------------------------------------------- the patch

_patch_lock = threading.RLock()
_users = 0
_originals: tuple[ModuleType, Any, Any] | None = None
_hook: _CommImportHook | None = None


def _current_manager() -> WidgetManager | None:
    ctx = context_mod.current_or_none()
    if ctx is None:
        return None
    manager = ctx.extensions.get("widgets")
    if isinstance(manager, WidgetManager) and not manager.closed:
        return manager
    return None


def _create_comm(*args: Any, **kwargs: Any) -> Any:
    """Replacement of ``comm.create_comm``: an amphikernel comm inside a kernel."""
    manager = _current_manager()
    if manager is not None:
        return manager.create_comm(*args, **kwargs)
    original = _originals[1] if _originals is not None else getattr(sys.modules.get("comm"), "_create_comm", None)
    if original is None or original is _create_comm:  # pragma: no cover - defensive
        raise RuntimeError("comm.create_comm: no comm implementation available")
    return original(*args, **kwargs)


def _get_comm_manager() -> Any:
    """Replacement of ``comm.get_comm_manager``: the kernel's :class:`WidgetManager`."""
    manager = _current_manager()
    if manager is not None:
        return manager
    original = _originals[2] if _originals is not None else getattr(sys.modules.get("comm"), "_get_comm_manager", None)
    if original is None or original is _get_comm_manager:  # pragma: no cover - defensive
        raise RuntimeError("comm.get_comm_manager: no comm manager available")
    return original()


def _patch(module: ModuleType) -> None:
    global _originals
    with _patch_lock:
        if _users == 0 or _originals is not None:
            return
        _originals = (module, module.create_comm, module.get_comm_manager)
        module.create_comm = _create_comm
        module.get_comm_manager = _get_comm_manager


def _unpatch() -> None:
    global _originals
    with _patch_lock:
        if _originals is None:
            return
        module, create, get = _originals
        _originals = None
        if getattr(module, "create_comm", None) is _create_comm:
            module.create_comm = create
        if getattr(module, "get_comm_manager", None) is _get_comm_manager:
            module.get_comm_manager = get


class _PatchingLoader(importlib.abc.Loader):
    """Wraps the real loader of ``comm``: patches the module right after it executed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _patch(module)
        _remove_hook()

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self._inner, name)


class _CommImportHook(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` entry that catches the first import of ``comm`` (one shot)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "comm":
            return None
        for finder in list(sys.meta_path):
            if isinstance(finder, _CommImportHook):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def _remove_hook() -> None:
    global _hook
    with _patch_lock:
        if _hook is not None and _hook in sys.meta_path:
            sys.meta_path.remove(_hook)
        _hook = None


def _acquire() -> None:
    global _users, _hook
    with _patch_lock:
        _users += 1
        if _users > 1:
            return
        module = sys.modules.get("comm")
        if module is not None:
            _patch(module)
        elif _hook is None:
            _hook = _CommImportHook()
            sys.meta_path.insert(0, _hook)


def _release() -> None:
    global _users
    with _patch_lock:
        _users = max(0, _users - 1)
        if _users:
            return
        _remove_hook()
        _unpatch()


def is_patched() -> bool:
    """Whether ``comm`` is patched or the import hook is waiting for it (any live kernel)."""
    with _patch_lock:
        return _originals is not None or _hook is not None or any(
            isinstance(f, _CommImportHook) for f in sys.meta_path
        )


# ------------------------------------------------------------------------ install


def install(kernel: Kernel, runtime: KernelRuntime) -> None:
    """Give ``kernel`` widget models: ``kernel.extensions["widgets"]`` becomes a
    :class:`WidgetManager`, ``comm`` is patched (now or at its first import), and
    ``runtime.closers`` closes the kernel's comms and releases the patch at teardown.

    Cheap: imports neither ``comm`` nor ``ipywidgets``.  Idempotent per kernel.
    """
    if isinstance(kernel.extensions.get("widgets"), WidgetManager):
        return
    manager = WidgetManager(kernel, runtime.context)
    kernel.extensions["widgets"] = manager
    _acquire()
    runtime.closers.append(manager.close)
