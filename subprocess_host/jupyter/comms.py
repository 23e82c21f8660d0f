"""Jupyter comms <-> amphikernel widget models (``jupyter.widget``, ``jupyter.widget.control``).

Follows the Jupyter widget message protocol, version 2
(https://github.com/jupyter-widgets/ipywidgets/blob/main/packages/schema/messages.md):

* kernel -> client: a ``widget-model-update`` ``open`` becomes ``comm_open`` (target
  ``jupyter.widget``, ``data = {state, buffer_paths}``, ``metadata.version``); ``update`` and
  ``custom`` become ``comm_msg`` (``{method: "update", state, buffer_paths}`` /
  ``{method: "custom", content}``) with the binary buffers as message buffers; ``close``
  becomes ``comm_close``.
* client -> kernel: ``comm_msg`` ``update`` / ``custom`` on a widget comm become the
  ``widget-model`` command (buffers stay bytes); ``request_state`` is answered here from the
  state the bridge has seen; on a ``jupyter.widget.control`` comm, ``request_states`` is
  answered with ``update_states`` (every live model's state, buffer paths prefixed by the
  model id).  A ``comm_open`` for another target is closed at once.

Pure logic: no sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol
from subprocess_host.jupyter.messages import Outgoing, jsonable_value

WIDGET_TARGET = "jupyter.widget"
CONTROL_TARGET = "jupyter.widget.control"
WIDGET_PROTOCOL_VERSION = "2.1.0"

Path = list[str | int]


def place_buffers(state: dict[str, Any], paths: list[Path], buffers: list[bytes]) -> dict[str, Any]:
    """``state`` with ``buffers[i]`` put at ``paths[i]`` (a copy of the containers on the way).

    Raises:
        ValueError: a path does not lead into ``state``.
    """
    state = dict(state)
    for path, buf in zip(paths, buffers):
        if not path:
            raise ValueError("empty buffer path")
        node: Any = state
        for key in path[:-1]:
            child = node[key]
            child = dict(child) if isinstance(child, dict) else list(child)
            node[key] = child
            node = child
        node[path[-1]] = bytes(buf)
    return state


def split_buffers(value: Any, path: Path | None = None) -> tuple[Any, list[Path], list[bytes]]:
    """``value`` without its ``bytes`` leaves (each replaced by ``None``), their paths and the
    bytes, in the order found."""
    path = path or []
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None, [list(path)], [bytes(value)]
    paths: list[Path] = []
    bufs: list[bytes] = []
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], p, b = split_buffers(item, [*path, key])
            paths += p
            bufs += b
        return out, paths, bufs
    if isinstance(value, (list, tuple)):
        items = []
        for index, item in enumerate(value):
            new, p, b = split_buffers(item, [*path, index])
            items.append(new)
            paths += p
            bufs += b
        return items, paths, bufs
    return value, paths, bufs


@dataclass
class CommBridge:
    """The comms the client knows of, and the latest state of every widget model."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """model id -> full state, binary values inline as ``bytes``."""
    controls: set[str] = field(default_factory=set)

    # ------------------------------------------------------------ kernel -> client
    def from_kernel(self, note: protocol.WidgetModelUpdate) -> list[Outgoing]:
        """The comm message a widget-model change becomes."""
        comm_id = note.model_id
        if note.method == "close":
            self.states.pop(comm_id, None)
            return [Outgoing("comm_close", {"comm_id": comm_id, "data": {}})]
        if note.method == "custom":
            data = {"method": "custom", "content": jsonable_value(note.content)}
            return [Outgoing("comm_msg", {"comm_id": comm_id, "data": data}, list(note.buffers))]
        try:
            full = place_buffers(note.state, note.buffer_paths, note.buffers)
        except (KeyError, IndexError, TypeError, ValueError):
            full = dict(note.state)
        if note.method == "open":
            self.states[comm_id] = full
        else:
            self.states.setdefault(comm_id, {}).update(full)
        data = {"state": jsonable_value(note.state), "buffer_paths": note.buffer_paths}
        if note.method == "open":
            content = {
                "comm_id": comm_id, "target_name": WIDGET_TARGET, "target_module": None, "data": data,
            }
            metadata = {"version": WIDGET_PROTOCOL_VERSION}
            return [Outgoing("comm_open", content, list(note.buffers), metadata)]
        return [Outgoing("comm_msg", {"comm_id": comm_id, "data": {"method": "update", **data}}, list(note.buffers))]

    # ------------------------------------------------------------ client -> kernel
    def comm_open(self, content: dict[str, Any]) -> list[Outgoing]:
        """A comm the client opens: a control comm is kept, anything else closed."""
        comm_id = str(content.get("comm_id", ""))
        if content.get("target_name") == CONTROL_TARGET:
            self.controls.add(comm_id)
            return []
        return [Outgoing("comm_close", {"comm_id": comm_id, "data": {}})]

    def comm_close(self, content: dict[str, Any]) -> None:
        """The client closed a comm (widget models stay; their cells own them)."""
        self.controls.discard(str(content.get("comm_id", "")))

    def comm_msg(self, content: dict[str, Any], buffers: list[bytes]) -> tuple[list[Any], list[Outgoing]]:
        """A client ``comm_msg``: ``(commands for the kernel, replies for the client)``."""
        comm_id = str(content.get("comm_id", ""))
        data = content.get("data") or {}
        method = data.get("method")
        if comm_id in self.controls:
            if method == "request_states":
                return [], [self._update_states(comm_id)]
            return [], []
        if comm_id not in self.states:
            return [], []
        if method == "update":
            state = data.get("state") or {}
            paths = data.get("buffer_paths") or []
            try:
                self.states[comm_id].update(place_buffers(state, paths, buffers))
            except (KeyError, IndexError, TypeError, ValueError):
                pass
            cmd = protocol.WidgetModel(model_id=comm_id, method="update", state=state,
                                       buffer_paths=paths, buffers=list(buffers))  # fmt: skip
            return [cmd], []
        if method == "custom":
            return [protocol.WidgetModel(model_id=comm_id, method="custom", content=data.get("content"),
                                         buffers=list(buffers))], []  # fmt: skip
        if method == "request_state":
            state, paths, bufs = split_buffers(self.states[comm_id])
            reply = {"method": "update", "state": state, "buffer_paths": paths}
            return [], [Outgoing("comm_msg", {"comm_id": comm_id, "data": reply}, bufs)]
        return [], []

    def _update_states(self, comm_id: str) -> Outgoing:
        states, paths, bufs = split_buffers(self.states)
        data = {"method": "update_states", "states": states, "buffer_paths": paths}
        return Outgoing("comm_msg", {"comm_id": comm_id, "data": data}, bufs)

    def comm_info(self, target_name: str | None) -> dict[str, Any]:
        """The ``comms`` of a ``comm_info_reply`` (optionally of one target)."""
        comms = {cid: {"target_name": WIDGET_TARGET} for cid in self.states}
        comms.update({cid: {"target_name": CONTROL_TARGET} for cid in self.controls})
        if target_name:
            comms = {k: v for k, v in comms.items() if v["target_name"] == target_name}
        return comms
