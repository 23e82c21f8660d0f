"""The latest state of a session, kept so that a (re)connecting tab can resynchronise.

A :class:`ReplayState` is fed every notification a kernel sends (:meth:`ReplayState.record`)
and keeps, as the raw frames the kernel sent (never re-encoded):

* the kernel's state: its latest ``kernel-ready``, or ``kernel-died`` once it is dead;
* per cell, its latest ``cell-status`` and the ``cell-output`` / ``cell-console`` /
  ``cell-error`` frames of its latest run (cleared when the cell starts running again or is
  marked ``errored-ancestor``), capped per cell (:attr:`ReplayState.max_bytes_per_cell`,
  :attr:`ReplayState.max_frames_per_cell`); what goes over the cap is counted and replaced by
  one notice on replay.  ``clear-output`` empties them (with ``wait``, at the cell's next
  output; a clear still pending is replayed); ``update-display`` replaces, in place, each kept
  ``cell-output`` frame with that ``display_id`` by one carrying the new data (so a progress
  bar updated a thousand times is one frame);
* the latest ``variables``;
* the latest ``ui-element-value`` per element (also from tabs' ``update-ui-element``);
* per widget model, its merged state (``open`` plus every ``update``; removed on ``close``),
  replayed as one synthesised ``widget-model-update`` ``open`` message;
* ``input-request`` frames nobody has answered yet.

:meth:`ReplayState.frames` lists the frames a new tab needs, in an order it can apply one by
one: kernel ready, widget models, cells (status, then outputs) in notebook order, UI values,
variables, pending input requests, and ``kernel-died`` last.  Pure bookkeeping: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol


@dataclass
class _CellRecord:
    status: bytes | None = None
    running: bool = False
    outputs: list[bytes] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    clear_pending: bool = False
    displays: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """display id -> (index in ``outputs``, output kind) of the outputs shown with it."""

    def clear_outputs(self) -> None:
        self.outputs = []
        self.size = 0
        self.dropped = 0
        self.clear_pending = False
        self.displays = {}


@dataclass
class _PendingInput:
    cell_id: str
    frame: bytes


def place_buffers(
    state: dict[str, Any], paths: list[list[str | int]], buffers: list[bytes]
) -> dict[str, Any]:
    """A copy of a widget ``state`` with ``buffers[i]`` put at ``paths[i]`` (Jupyter widget
    message spec).  Containers along each path are copied; a path that does not fit the
    state is skipped."""
    state = dict(state)
    for path, buffer in zip(paths, buffers):
        if not path:
            continue
        target: Any = state
        try:
            for key in path[:-1]:
                child = target[key]
                if isinstance(child, dict):
                    child = dict(child)
                elif isinstance(child, list):
                    child = list(child)
                target[key] = child
                target = child
            target[path[-1]] = buffer
        except (KeyError, IndexError, TypeError):
            continue
    return state


def extract_buffers(state: dict[str, Any]) -> tuple[dict[str, Any], list[list[str | int]], list[bytes]]:
    """Split binary values out of a widget state: ``(state without them, paths, buffers)``.

    As in the Jupyter widget message spec, a binary value in a dict is removed from it and
    one in a list is replaced by ``None``; ``paths[i]`` says where ``buffers[i]`` goes.
    """
    paths: list[list[str | int]] = []
    buffers: list[bytes] = []

    def walk(value: Any, path: list[str | int]) -> Any:
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                if isinstance(item, (bytes, bytearray, memoryview)):
                    paths.append([*path, key])
                    buffers.append(bytes(item))
                else:
                    out[key] = walk(item, [*path, key])
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for index, item in enumerate(value):
                if isinstance(item, (bytes, bytearray, memoryview)):
                    paths.append([*path, index])
                    buffers.append(bytes(item))
                    items.append(None)
                else:
                    items.append(walk(item, [*path, index]))
            return items
        return value

    return walk(state, []), paths, buffers


class ReplayState:
    """What a new tab of a session must be sent (see the module docstring).

    Args:
        max_bytes_per_cell: bytes of output frames kept per cell run.
        max_frames_per_cell: output frames kept per cell run.
    """

    def __init__(self, *, max_bytes_per_cell: int = 64 * 1024 * 1024, max_frames_per_cell: int = 20_000) -> None:
        self.max_bytes_per_cell = max_bytes_per_cell
        self.max_frames_per_cell = max_frames_per_cell
        self.ready: bytes | None = None
        self.died: bytes | None = None
        self.cells: dict[str, _CellRecord] = {}
        self.variables: bytes | None = None
        self.ui_values: dict[str, bytes] = {}
        self.widgets: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, _PendingInput] = {}

    # ------------------------------------------------------------------ kernel frames
    def record(self, note: Any, frame: bytes) -> None:
        """Take one notification from the kernel into account (``frame`` is its raw bytes)."""
        if isinstance(note, protocol.CellOutput) and note.display_id is not None:
            index = self._add_output(note.cell_id, frame)
            if index is not None:
                displays = self.cells[note.cell_id].displays
                displays.setdefault(note.display_id, []).append((index, note.kind))
        elif isinstance(note, (protocol.CellOutput, protocol.CellConsole, protocol.CellError)):
            self._add_output(note.cell_id, frame)
        elif isinstance(note, protocol.UpdateDisplay):
            self._update_display(note)
        elif isinstance(note, protocol.ClearOutput):
            record = self._record_for(note.cell_id)
            if note.wait:
                record.clear_pending = True
            else:
                record.clear_outputs()
        elif isinstance(note, protocol.CellStatus):
            self._status(note, frame)
        elif isinstance(note, protocol.UIElementValue):
            self.ui_values[note.element_id] = frame
        elif isinstance(note, protocol.WidgetModelUpdate):
            self._widget(note.model_id, note.method, note.state, note.buffer_paths, note.buffers)
        elif isinstance(note, protocol.Variables):
            self.variables = frame
        elif isinstance(note, protocol.InputRequest):
            self.inputs[note.request_id] = _PendingInput(note.cell_id, frame)
        elif isinstance(note, protocol.KernelReady):
            self.ready, self.died = frame, None
        elif isinstance(note, protocol.KernelDied):
            self.died = frame
            self.inputs.clear()
            for record in self.cells.values():
                record.running = False

    def _record_for(self, cell_id: str) -> _CellRecord:
        record = self.cells.get(cell_id)
        if record is None:
            record = self.cells[cell_id] = _CellRecord()
        return record

    def _add_output(self, cell_id: str, frame: bytes) -> int | None:
        """Keep an output frame; its index in the cell's outputs, ``None`` if over the cap."""
        record = self._record_for(cell_id)
        if record.clear_pending:
            record.clear_outputs()
        if record.size + len(frame) > self.max_bytes_per_cell or len(record.outputs) >= self.max_frames_per_cell:
            record.dropped += 1
            return None
        record.outputs.append(frame)
        record.size += len(frame)
        return len(record.outputs) - 1

    def _update_display(self, note: protocol.UpdateDisplay) -> None:
        for cell_id, record in self.cells.items():
            for index, kind in record.displays.get(note.display_id, []):
                frame = protocol.encode(protocol.CellOutput(
                    cell_id=cell_id, data=note.data, metadata=note.metadata,
                    kind=kind,  # type: ignore[arg-type]
                    display_id=note.display_id,
                ))
                record.size += len(frame) - len(record.outputs[index])
                record.outputs[index] = frame

    def _status(self, note: protocol.CellStatus, frame: bytes) -> None:
        record = self._record_for(note.cell_id)
        record.status = frame
        record.running = note.status == "running"
        if note.status in ("running", "errored-ancestor"):
            record.clear_outputs()
        if not record.running:
            for request_id in [r for r, p in self.inputs.items() if p.cell_id == note.cell_id]:
                del self.inputs[request_id]

    def _widget(
        self,
        model_id: str,
        method: str,
        state: dict[str, Any],
        paths: list[list[str | int]],
        buffers: list[bytes],
    ) -> None:
        if method == "close":
            self.widgets.pop(model_id, None)
        elif method == "open":
            self.widgets[model_id] = place_buffers(state, paths, buffers)
        elif method == "update" and model_id in self.widgets:
            self.widgets[model_id].update(place_buffers(state, paths, buffers))

    # --------------------------------------------------------------- tab-originated
    def record_ui_update(self, values: dict[str, Any]) -> list[bytes]:
        """A tab set UI element values: remember them as ``ui-element-value`` frames and
        return those frames (for the session's other tabs)."""
        frames = []
        for element_id, value in values.items():
            frame = protocol.encode(protocol.UIElementValue(element_id=element_id, value=value))
            self.ui_values[element_id] = frame
            frames.append(frame)
        return frames

    def record_widget_update(self, command: protocol.WidgetModel) -> bytes | None:
        """A tab changed a widget's state: merge it and return the ``widget-model-update``
        frame for the other tabs (``None`` for ``custom`` messages, which are not state)."""
        if command.method != "update":
            return None
        self._widget(command.model_id, "update", command.state, command.buffer_paths, command.buffers)
        return protocol.encode(
            protocol.WidgetModelUpdate(
                model_id=command.model_id,
                method="update",
                state=command.state,
                buffer_paths=command.buffer_paths,
                buffers=command.buffers,
            )
        )

    def answered(self, request_id: str) -> None:
        """A tab answered an ``input-request``: it is no longer pending."""
        self.inputs.pop(request_id, None)

    # ---------------------------------------------------------------------- changes
    def forget_cells(self, cell_ids: Iterable[str]) -> None:
        """Cells were deleted: drop what is kept about them."""
        for cell_id in cell_ids:
            self.cells.pop(cell_id, None)
            for request_id in [r for r, p in self.inputs.items() if p.cell_id == cell_id]:
                del self.inputs[request_id]

    def reset(self) -> None:
        """The kernel is being replaced: forget everything it produced."""
        self.ready = self.died = self.variables = None
        self.cells.clear()
        self.ui_values.clear()
        self.widgets.clear()
        self.inputs.clear()

    # ----------------------------------------------------------------------- replay
    def frames(self, order: Iterable[str] = ()) -> list[bytes]:
        """The frames a new tab needs, in the order to apply them.

        Args:
            order: cell ids in notebook order; cells not listed come after, in the order
                they were first seen.
        """
        out: list[bytes] = []
        if self.ready is not None:
            out.append(self.ready)
        for model_id, state in self.widgets.items():
            plain, paths, buffers = extract_buffers(copy.copy(state))
            out.append(
                protocol.encode(
                    protocol.WidgetModelUpdate(
                        model_id=model_id, method="open", state=plain, buffer_paths=paths, buffers=buffers
                    )
                )
            )
        seen: set[str] = set()
        for cell_id in [*order, *self.cells]:
            record = self.cells.get(cell_id)
            if record is None or cell_id in seen:
                continue
            seen.add(cell_id)
            if record.status is not None:
                out.append(record.status)
            out.extend(record.outputs)
            if record.dropped:
                notice = (
                    f"[{record.dropped} more output message(s) of this run are not replayed]\n"
                )
                out.append(protocol.encode(protocol.CellConsole(cell_id=cell_id, stream="stderr", text=notice)))
            if record.clear_pending:
                out.append(protocol.encode(protocol.ClearOutput(cell_id=cell_id, wait=True)))
        out.extend(self.ui_values.values())
        if self.variables is not None:
            out.append(self.variables)
        out.extend(pending.frame for pending in self.inputs.values())
        if self.died is not None:
            out.append(self.died)
        return out
