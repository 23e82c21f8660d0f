"""The amphikernel comm: a ``comm.base_comm.BaseComm`` whose messages go to its kernel's
comm manager (:class:`KernelCommManager`), which turns them into protocol notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class KernelCommManager:
    """The comm manager of one kernel as its comms and the patched ``comm`` functions see it.

    :class:`lifecycle.widgets.manager.WidgetManager` is the implementation; the patch
    recognises a kernel's manager by this class, so it never imports the manager module.

    Attributes:
        closed: the kernel has been torn down: its comms send nothing.
    """

    closed: bool

    def create_comm(self, *args: Any, **kwargs: Any) -> Any:
        """A new amphikernel comm of this kernel (``comm.create_comm`` arguments)."""
        raise NotImplementedError

    def creating_cell(self) -> str | None:
        """The cell that owns a comm created now (``None``: none)."""
        raise NotImplementedError

    def register_comm(self, comm: Any) -> str:
        """Register a comm (called when it opens); returns its id."""
        raise NotImplementedError

    def unregister_comm(self, comm: Any) -> None:
        """Forget a comm (called when it closes)."""
        raise NotImplementedError

    def _attach_widget(self, comm: Any) -> None:
        """``comm.widget`` was just set: map the widget to the comm."""
        raise NotImplementedError

    def _publish(
        self, comm: Any, msg_type: str, data: dict[str, Any] | None, buffers: list[Any] | None
    ) -> None:
        """Turn one Jupyter comm message of ``comm`` into a notification."""
        raise NotImplementedError


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

        def __init__(self, *args: Any, manager: KernelCommManager, **kwargs: Any) -> None:
            self.manager = manager
            self.owner: str | None = manager.creating_cell()
            self.widget: Any = None
            super().__init__(*args, **kwargs)

        @property
        def kernel(self) -> KernelCommManager | None:
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
