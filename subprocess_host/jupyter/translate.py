"""Notifications of one kernel -> Jupyter iopub messages, with reactive re-runs in Jupyter terms.

:class:`Translator` keeps, per cell, the display ids of the outputs the client shows for it
(its *slots*): every ``display_data`` and ``execute_result`` the bridge sends carries a
display id in ``transient`` (the user's own ``display_id`` when the cell gave one, else a
fresh ``amphi-<hex>``).

* The cell a request asked for (the *requested* cell) sends its outputs as ipykernel would:
  ``stream``, ``display_data``, ``execute_result`` (with the request's execution count),
  ``error``, ``clear_output``; its slots are replaced by the ones of this run.  For a request
  that names its cell (JupyterLab, VS Code) the result goes out as ``display_data``
  (:attr:`RunState.result_as_display`: JupyterLab updates only those in place).
* A cell re-run because a cell it reads from changed (a *dependent*) updates its slots in
  place: its ``i``-th display or result becomes ``update_display_data`` on its ``i``-th slot
  (an error becomes a ``text/plain`` traceback in the slot); slots it no longer fills are
  emptied (``text/plain`` ``""``).  Outputs beyond its slots, and its console text, are sent
  as ordinary messages of the triggering request (nothing is lost; they appear under the
  triggering cell).  A dependent whose ancestor raised gets a notice in its slots.
  Dependents the client ran silently stay silent.

Every message is parented (by the bridge) to the request being served, so all of this reaches
the client before that request's ``idle``.  Pure logic: no sockets, no threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol
from subprocess_host.jupyter import messages as m
from subprocess_host.jupyter.messages import Outgoing

_EMPTY: dict[str, Any] = {"text/plain": ""}
_NOT_RUN: dict[str, Any] = {"text/plain": "<not run: a cell this one reads from raised an error>"}


@dataclass
class RunState:
    """One request's run: the requested cell (``None``: a widget change, only dependents),
    its execution count, and what came back.

    Attributes:
        started: a status of the requested cell arrived (earlier notifications belong to an
            earlier run).
        done: the run's ``completed-run`` arrived.
        error: the ``error`` content of the requested cell (``None``: it did not fail).
    """

    cell_id: str | None
    execution_count: int = 0
    silent: bool = False
    started: bool = False
    done: bool = False
    error: dict[str, Any] | None = None
    result_text: str | None = None
    """``text/plain`` of the requested cell's result (history with output)."""
    result_as_display: bool = False
    """Send the requested cell's result as ``display_data`` rather than ``execute_result``:
    JupyterLab's output area replaces only ``display_data`` outputs on
    ``update_display_data``, so cells whose client tracks them (a cell id was sent) show
    results that way, to be updatable when they re-run as dependents."""


@dataclass
class _Dependent:
    cell_id: str
    filled: int = 0


@dataclass
class Translator:
    """Turns notifications into :class:`~subprocess_host.jupyter.messages.Outgoing` messages.

    Call :meth:`begin` when a request's command is sent to the kernel, :meth:`translate`
    with every notification in order; :attr:`run` says when the run is done.
    """

    slots: dict[str, list[str]] = field(default_factory=dict)
    silent_cells: set[str] = field(default_factory=set)
    run: RunState | None = None
    _dependent: _Dependent | None = None

    def begin(self, run: RunState) -> None:
        """A new request's run (the previous one is over)."""
        self.run = run
        self._dependent = None
        if run.cell_id is None:
            run.started = True
        elif run.silent:
            self.silent_cells.add(run.cell_id)
        else:
            self.silent_cells.discard(run.cell_id)

    # ------------------------------------------------------------------ helpers
    def _requested(self, cell_id: str) -> bool:
        run = self.run
        return run is not None and run.cell_id == cell_id

    def _quiet(self, cell_id: str) -> bool:
        if self._requested(cell_id):
            return self.run is not None and self.run.silent
        return cell_id in self.silent_cells

    def _finish_dependent(self) -> list[Outgoing]:
        dep, self._dependent = self._dependent, None
        if dep is None:
            return []
        return [m.update_display(_EMPTY, {}, d) for d in self.slots.get(dep.cell_id, [])[dep.filled:]]

    def _slot_update(self, cell_id: str, data: dict[str, Any], metadata: dict[str, Any]) -> list[Outgoing]:
        """A dependent's next rich output: its next slot, or a new output of the request."""
        dep = self._dependent
        if dep is None or dep.cell_id != cell_id:
            out = self._finish_dependent()
            dep = self._dependent = _Dependent(cell_id)
        else:
            out = []
        slots = self.slots.get(cell_id, [])
        if dep.filled < len(slots):
            out.append(m.update_display(data, metadata, slots[dep.filled]))
            dep.filled += 1
        else:
            out.append(m.display(data, metadata, m.new_display_id()))
        return out

    # --------------------------------------------------------------- translate
    def translate(self, note: Any) -> list[Outgoing]:
        """The messages one notification becomes (often none)."""
        if isinstance(note, protocol.CellStatus):
            return self._status(note)
        if isinstance(note, protocol.CompletedRun):
            run = self.run
            if run is None or not run.started:
                return []  # an earlier run's end (a widget change not waited for)
            run.done = True
            return self._finish_dependent()
        if isinstance(note, protocol.UpdateDisplay):
            return [m.update_display(note.data, note.metadata, note.display_id)]
        cell_id = getattr(note, "cell_id", None)
        if not isinstance(cell_id, str) or self._quiet(cell_id):
            return []
        if isinstance(note, protocol.CellConsole):
            return [m.stream(note.stream, note.text)]
        if isinstance(note, protocol.CellOutput):
            return self._output(note)
        if isinstance(note, protocol.CellError):
            return self._error(note)
        if isinstance(note, protocol.ClearOutput):
            return [Outgoing("clear_output", {"wait": note.wait})] if self._requested(cell_id) else []
        return []

    def _status(self, note: protocol.CellStatus) -> list[Outgoing]:
        run = self.run
        if run is not None and run.cell_id == note.cell_id:
            run.started = True
            out = self._finish_dependent()
            if note.status == "running":
                self.slots[note.cell_id] = []
            elif note.status == "errored-ancestor" and not run.silent:
                error = m.not_run_error(note.cell_id)
                run.error = m.error_content(error)
                self.slots[note.cell_id] = []
                out.append(Outgoing("error", run.error))
            return out
        if note.status == "running":
            out = self._finish_dependent()
            self._dependent = _Dependent(note.cell_id)
            return out
        if note.status == "errored-ancestor" and not self._quiet(note.cell_id):
            out = self._finish_dependent()
            out += [m.update_display(_NOT_RUN, {}, d) for d in self.slots.get(note.cell_id, [])]
            return out
        return []

    def _output(self, note: protocol.CellOutput) -> list[Outgoing]:
        run = self.run
        if run is not None and run.cell_id == note.cell_id:
            display_id = note.display_id or m.new_display_id()
            self.slots.setdefault(note.cell_id, []).append(display_id)
            if note.kind == "result":
                plain = note.data.get("text/plain")
                run.result_text = plain if isinstance(plain, str) else None
                if not run.result_as_display:
                    return [m.display(note.data, note.metadata, display_id, run.execution_count)]
            return [m.display(note.data, note.metadata, display_id)]
        return self._slot_update(note.cell_id, note.data, note.metadata)

    def _error(self, note: protocol.CellError) -> list[Outgoing]:
        run = self.run
        if run is not None and run.cell_id == note.cell_id:
            content = m.error_content(note)
            if note.fatal:
                run.error = content
            return [Outgoing("error", content)]
        slots = self.slots.get(note.cell_id, [])
        dep = self._dependent
        if dep is not None and dep.cell_id == note.cell_id and dep.filled < len(slots):
            return self._slot_update(note.cell_id, m.error_as_bundle(note), {})
        return [Outgoing("error", m.error_content(note))]

    def forget(self, cell_ids: list[str]) -> None:
        """Cells deleted by the client: no slots to update any more."""
        for cell_id in cell_ids:
            self.slots.pop(cell_id, None)
            self.silent_cells.discard(cell_id)
