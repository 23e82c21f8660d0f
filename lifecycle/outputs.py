"""Collecting a run's notifications into per-cell outputs (nbformat 4 output dicts).

Used by headless execution (``amphi execute``), by export with pre-rendered outputs, and by
tests.  Output shapes follow the nbformat 4 schema: ``stream`` (consecutive chunks of one
stream joined), ``execute_result`` (with ``execution_count``), ``display_data`` and ``error``
(``ename``, ``evalue``, ``traceback`` as a list of lines).

Display updates and clears are applied as nbclient applies Jupyter's messages:
``update-display`` replaces, in place, the data and metadata of every output (of any cell)
that was shown with that ``display_id`` (the id itself is transient: not in the output
dicts); ``clear-output`` empties the cell's outputs, with ``wait`` when its next output
arrives.  An error with ``fatal=False`` (a repr method that raised) is an output but does not
mark the cell errored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol


@dataclass
class CellRecord:
    """What one cell produced in its latest run."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""
    execution_count: int | None = None
    errored: bool = False
    clear_pending: bool = False


class OutputCollector:
    """Feed notifications with :meth:`add`; read :attr:`cells` (cell id -> :class:`CellRecord`).

    A cell's outputs are cleared when it starts running again (``cell-status: running``), as
    a frontend does.
    """

    def __init__(self) -> None:
        self.cells: dict[str, CellRecord] = {}
        self.kernel_errors: list[protocol.KernelError] = []
        self._count = 0
        self._displays: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        """display id -> (cell id, output dict) shown with it (the dicts are updated in place)."""

    def record(self, cell_id: str) -> CellRecord:
        """The record of ``cell_id`` (created empty if new)."""
        rec = self.cells.get(cell_id)
        if rec is None:
            rec = self.cells[cell_id] = CellRecord()
        return rec

    def _output_record(self, cell_id: str) -> CellRecord:
        """The record an output of ``cell_id`` goes to, applying a pending clear first."""
        rec = self.record(cell_id)
        if rec.clear_pending:
            self._clear(cell_id, rec)
        return rec

    def _clear(self, cell_id: str, rec: CellRecord) -> None:
        """Empty a cell's outputs and forget its display ids."""
        rec.outputs = []
        rec.clear_pending = False
        for display_id in [d for d, shown in self._displays.items() if any(c == cell_id for c, _ in shown)]:
            kept = [(c, o) for c, o in self._displays[display_id] if c != cell_id]
            if kept:
                self._displays[display_id] = kept
            else:
                del self._displays[display_id]

    def add(self, note: Any) -> None:
        """Take one notification into account."""
        if isinstance(note, protocol.CellStatus):
            rec = self.record(note.cell_id)
            rec.status = note.status
            if note.status == "running":
                self._count += 1
                self._clear(note.cell_id, rec)
                rec.errored = False
                rec.execution_count = self._count
            elif note.status == "errored-ancestor":
                self._clear(note.cell_id, rec)
        elif isinstance(note, protocol.UpdateDisplay):
            for _cell_id, output in self._displays.get(note.display_id, []):
                output["data"] = dict(note.data)
                output["metadata"] = dict(note.metadata)
        elif isinstance(note, protocol.ClearOutput):
            rec = self.record(note.cell_id)
            if note.wait:
                rec.clear_pending = True
            else:
                self._clear(note.cell_id, rec)
        elif isinstance(note, protocol.CellConsole):
            outs = self._output_record(note.cell_id).outputs
            if outs and outs[-1]["output_type"] == "stream" and outs[-1]["name"] == note.stream:
                outs[-1]["text"] += note.text
            else:
                outs.append({"output_type": "stream", "name": note.stream, "text": note.text})
        elif isinstance(note, protocol.CellOutput):
            rec = self._output_record(note.cell_id)
            if note.kind == "result":
                output: dict[str, Any] = {
                    "output_type": "execute_result", "data": dict(note.data), "metadata": dict(note.metadata),
                    "execution_count": rec.execution_count,
                }
            else:
                output = {"output_type": "display_data", "data": dict(note.data), "metadata": dict(note.metadata)}
            rec.outputs.append(output)
            if note.display_id is not None:
                self._displays.setdefault(note.display_id, []).append((note.cell_id, output))
        elif isinstance(note, protocol.CellError):
            rec = self._output_record(note.cell_id)
            rec.errored = rec.errored or note.fatal
            rec.outputs.append(
                {"output_type": "error", "ename": note.ename, "evalue": note.evalue,
                 "traceback": note.traceback.rstrip("\n").split("\n") if note.traceback else []}
            )
        elif isinstance(note, protocol.KernelError):
            self.kernel_errors.append(note)


def output_text(output: dict[str, Any]) -> str:
    """Plain-text rendering of one nbformat output (for terminals and comparisons)."""
    kind = output["output_type"]
    if kind == "stream":
        return output["text"]
    if kind == "error":
        return "\n".join(output["traceback"]) + "\n" if output["traceback"] else f"{output['ename']}: {output['evalue']}\n"
    data = output.get("data", {})
    for mime in ("text/plain", "text/markdown", "text/html"):
        if mime in data:
            text = data[mime]
            text = "".join(text) if isinstance(text, list) else str(text)
            return text if text.endswith("\n") else text + "\n"
    return f"<{', '.join(sorted(data)) or 'empty output'}>\n"
