"""The :class:`WidgetManager`: widget models of one kernel, which is also its comm manager.

It turns the Jupyter comm messages of the kernel's comms into ``widget-model-update``
notifications, applies frontend state and custom messages to the widgets, records which
globals hold a widget (so a frontend update re-runs their readers) and closes the widgets a
cell created when it re-runs or is deleted.
"""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.widgets.assets import WidgetAssets
from lifecycle.widgets.comm import KernelCommManager, _amphi_comm_class
from lifecycle.widgets.patch import _release
from lifecycle.widgets.state import _ipywidget_class, _set_widget_state

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.kernel import Kernel, Outcome

log = logging.getLogger("amphikernel.widgets")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
"""MIME type of a displayed widget: ``{"model_id", "version_major": 2, "version_minor"}``."""
CODE_KEYS = frozenset({"_esm", "_css", "_anywidget_id", "_model_module", "_model_module_version",
                       "_model_name", "_view_module", "_view_module_version", "_view_name"})
"""State keys that say which code the page runs for a widget (the anywidget ES module and
stylesheet, the ipywidgets model/view classes).  Only kernel code sets them: a frontend update
naming one is ignored for that key (see :meth:`WidgetManager.apply`), so a reader of an app can
never make the page run code of their choosing through a widget."""


class WidgetManager(KernelCommManager):
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
        self._files = WidgetAssets(ctx, self._lock)  # _esm/_css virtual files
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
            self._files.forget_model(model_id)
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
            self._files.name_model(model_id, state)
            note = protocol.WidgetModelUpdate(
                model_id=model_id, method="open", state=self._files.externalise(comm, state),
                buffer_paths=list(data.get("buffer_paths") or []), buffers=bufs,
            )
        elif msg_type == "comm_msg":
            method = data.get("method")
            if method in ("update", "echo_update"):
                note = protocol.WidgetModelUpdate(
                    model_id=model_id, method="update",
                    state=self._files.externalise(comm, dict(data.get("state") or {})),
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
            self._files.forget_released(cell_id)
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
        synced traits are ignored, as ipywidgets does, and so are :data:`CODE_KEYS` (the ES
        module, stylesheet and view classes: only kernel code sets them).  The new values are
        not sent back.

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
        # Author code only: the code a widget's view runs is never taken from the page.
        state = {name: value for name, value in state.items() if name not in CODE_KEYS}
        if not state:
            return set()
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
                self._files.clear()
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
