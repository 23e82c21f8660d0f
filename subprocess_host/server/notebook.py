"""The notebook a session serves: its cells as the tabs last sent them, and saving them.

A :class:`NotebookDocument` wraps a :class:`lifecycle.notebook.Notebook` and its file.  Edit
sessions update it from the commands tabs send (``execute-cells`` changes or adds cells,
``delete-cells`` removes them, ``set-config`` may change the semantics) so that a tab that
connects later sees the current code, and write it back on ``save-notebook`` with
:func:`lifecycle.notebook.write_notebook` (temporary file, fsync, rename: the previous file
stays intact when anything fails).

Changes by other programs: the document remembers the SHA-256 of the file's bytes as last read
or written (and its ``stat`` key, so polling costs one ``stat``).  :meth:`check_disk` tells
whether the file now differs; :meth:`save` refuses to write over such a change
(:class:`ChangedOnDisk`) unless asked to overwrite; :meth:`reload` takes the file's content.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from lifecycle import protocol
from lifecycle.notebook import Cell, Notebook, new_cell_id, read_notebook, write_notebook
from lifecycle.outputs import OutputCollector
from subprocess_host.server.config import Mode
from subprocess_host.server.messages import HostCell, NotebookSnapshot


class ChangedOnDisk(Exception):
    """The notebook file was changed (or removed) by another program since this server last
    read or wrote it; nothing was written."""


def _stat_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _digest(path: Path) -> str | None:
    """SHA-256 (hex) of the file's bytes, or ``None`` when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class NotebookDocument:
    """A notebook file and the session's current view of its cells.

    Args:
        path: the notebook file (absolute).
        notebook: its content.
        saved: whether ``notebook`` equals what is on disk.
    """

    def __init__(self, path: Path, notebook: Notebook, *, saved: bool = True) -> None:
        self.path = path
        self.notebook = notebook
        self.saved = saved
        self._save_lock = asyncio.Lock()
        self.disk_digest: str | None = _digest(path)
        """SHA-256 of the file as this server last read or wrote it."""
        self._disk_stat = _stat_key(path)
        self._reported: str | None = self.disk_digest
        self._disk_lock = threading.Lock()  # a look at the disk never sees a save half done

    @classmethod
    def open(cls, path: Path, *, create: bool) -> NotebookDocument:
        """Read ``path``; when it does not exist and ``create`` is true, write a notebook
        with one empty code cell there first (in the format its suffix names).

        Raises:
            lifecycle.notebook.NotebookFormatError: the file is not a valid notebook.
            FileNotFoundError: missing and ``create`` is false.
            OSError: it cannot be read or created.
        """
        if create and not path.exists():
            write_notebook(path, Notebook(cells=[Cell(id=new_cell_id(), kind="code", source="")]))
        return cls(path, read_notebook(path))

    # ------------------------------------------------------------------ views
    def cell_ids(self) -> list[str]:
        """Every cell id, in order."""
        return [cell.id for cell in self.notebook.cells]

    def code_cells(self) -> tuple[list[str], list[str]]:
        """``(ids, sources)`` of the code cells, in order."""
        cells = [cell for cell in self.notebook.cells if cell.kind == "code"]
        return [cell.id for cell in cells], [cell.source for cell in cells]

    def snapshot(self, mode: Mode) -> NotebookSnapshot:
        """The ``notebook`` message for a tab."""
        return NotebookSnapshot(
            cells=[
                HostCell(id=c.id, kind=c.kind, source=c.source, name=c.name, options=dict(c.options))
                for c in self.notebook.cells
            ],
            path=str(self.path),
            mode=mode,
            saved=self.saved,
            semantics=self.notebook.semantics,
        )

    # ---------------------------------------------------------------- changes
    def apply(self, command: Any) -> bool:
        """Apply a command a tab sent to the kernel; returns whether the cells changed.

        ``execute-cells`` sets the sources of the cells it names (unknown ids become new code
        cells) and, with ``order``, reorders the cells it lists; ``delete-cells`` removes
        cells; ``set-config`` with a ``semantics`` changes the notebook's semantics.
        """
        if isinstance(command, protocol.ExecuteCells):
            changed = self._execute(command)
        elif isinstance(command, protocol.DeleteCells):
            doomed = set(command.cell_ids)
            before = len(self.notebook.cells)
            self.notebook.cells = [c for c in self.notebook.cells if c.id not in doomed]
            changed = len(self.notebook.cells) != before
        elif isinstance(command, protocol.SetConfig) and command.semantics is not None:
            changed = command.semantics != self.notebook.semantics
            if changed:
                self.notebook.semantics = command.semantics
        else:
            return False
        if changed:
            self.saved = False
        return changed

    def _execute(self, command: protocol.ExecuteCells) -> bool:
        by_id = {cell.id: cell for cell in self.notebook.cells}
        changed = False
        added: list[Cell] = []
        for cell_id, code in zip(command.cell_ids, command.codes):
            cell = by_id.get(cell_id)
            if cell is None:
                cell = Cell(id=cell_id, kind="code", source=code)
                by_id[cell_id] = cell
                added.append(cell)
                changed = True
            elif cell.source != code:
                cell.source = code
                changed = True
        if command.order is not None:
            cells = _reorder(self.notebook.cells, added, command.order, by_id)
        else:
            cells = [*self.notebook.cells, *added]
        if [c.id for c in cells] != [c.id for c in self.notebook.cells]:
            changed = True
        self.notebook.cells = cells
        return changed

    async def save(
        self, cells: list[HostCell], outputs: OutputCollector | None = None, *, overwrite: bool = False
    ) -> None:
        """Write ``cells`` to the file atomically and make them the current cells.

        The header (percent) or notebook metadata (``.ipynb``) is kept; for ``.ipynb``, a code
        cell gets the outputs of its latest run in this session (from ``outputs``), else the
        outputs it had when read, if its source is unchanged.

        Raises:
            ValueError: a cell id is empty or repeated.
            lifecycle.notebook.NotebookFormatError: the cells cannot be written (e.g. an
                option value that is not a str, bool, int or finite float); the file is
                untouched.
            OSError: the file cannot be written (e.g. the disk is full); the file is untouched.
            ChangedOnDisk: another program changed the file since it was read or written
                here, and ``overwrite`` is false; the file is untouched.
        """
        seen: set[str] = set()
        for index, cell in enumerate(cells):
            if not cell.id:
                raise ValueError(f"cells[{index}]: empty cell id")
            if cell.id in seen:
                raise ValueError(f"cells[{index}]: repeated cell id {cell.id!r}")
            seen.add(cell.id)
        previous = {cell.id: cell for cell in self.notebook.cells}
        new_cells = [self._to_cell(cell, previous.get(cell.id), outputs) for cell in cells]
        notebook = Notebook(cells=new_cells, header=self.notebook.header, metadata=dict(self.notebook.metadata))
        async with self._save_lock:
            await asyncio.to_thread(self._write, notebook, overwrite)
        self.notebook = notebook
        self.saved = True

    def _write(self, notebook: Notebook, overwrite: bool) -> None:
        with self._disk_lock:
            self._write_locked(notebook, overwrite)

    def _write_locked(self, notebook: Notebook, overwrite: bool) -> None:
        if not overwrite and _digest(self.path) != self.disk_digest:
            raise ChangedOnDisk(
                f"{self.path} was changed on disk by another program since it was loaded; "
                "nothing was written (reload it, or overwrite it)"
            )
        try:
            write_notebook(self.path, notebook)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(exc.errno, f"could not write {self.path}: {reason}; the file on disk is unchanged") from exc
        self._remember_disk()

    def _remember_disk(self) -> None:
        self._disk_stat = _stat_key(self.path)
        self.disk_digest = self._reported = _digest(self.path)

    # ------------------------------------------------------------ disk watch
    def check_disk(self) -> bool:
        """Whether the file changed on disk (other bytes than last read or written, or
        removed) since the last call that returned ``True``: a change is reported once.
        Costs one ``stat`` while nothing changed (blocking: call it in a thread)."""
        with self._disk_lock:
            return self._check_disk_locked()

    def _check_disk_locked(self) -> bool:
        key = _stat_key(self.path)
        if key == self._disk_stat:
            return False
        self._disk_stat = key
        digest = _digest(self.path) if key is not None else None
        if digest == self._reported:
            return False
        self._reported = digest
        return digest != self.disk_digest

    @property
    def changed_on_disk(self) -> bool:
        """Whether the last :meth:`check_disk` saw bytes other than this server's."""
        return self._reported != self.disk_digest

    def reload(self) -> None:
        """Replace the cells with the file's content (blocking: call it in a thread).

        Raises:
            lifecycle.notebook.NotebookFormatError: the file is not a valid notebook.
            OSError: it cannot be read (e.g. removed); nothing changes then.
        """
        with self._disk_lock:
            notebook = read_notebook(self.path)
            self.notebook = notebook
            self.saved = True
            self._remember_disk()

    def _to_cell(self, cell: HostCell, old: Cell | None, outputs: OutputCollector | None) -> Cell:
        new = Cell(
            id=cell.id,
            kind=cell.kind,
            source=cell.source,
            name=cell.name,
            options=dict(cell.options),
            metadata=dict(old.metadata) if old is not None else {},
        )
        if cell.kind != "code" or self.path.suffix.lower() != ".ipynb":
            return new
        record = outputs.cells.get(cell.id) if outputs is not None else None
        if record is not None:
            new.outputs = list(record.outputs)
            new.execution_count = record.execution_count
        elif old is not None and old.source == cell.source:
            new.outputs = list(old.outputs)
            new.execution_count = old.execution_count
        return new


def _reorder(cells: list[Cell], added: list[Cell], order: list[str], by_id: dict[str, Cell]) -> list[Cell]:
    """Cells listed in ``order`` take, in that order, the places listed cells occupied;
    unlisted cells keep theirs; listed new cells go after the last listed place; unlisted
    new cells go last."""
    listed = [by_id[cell_id] for cell_id in dict.fromkeys(order) if cell_id in by_id]
    listed_ids = {cell.id for cell in listed}
    queue = iter(listed)
    out: list[Cell] = []
    last_slot = -1
    for cell in cells:
        if cell.id in listed_ids:
            out.append(next(queue))
            last_slot = len(out) - 1
        else:
            out.append(cell)
    extra = list(queue)
    out[last_slot + 1 : last_slot + 1] = extra if last_slot >= 0 else []
    if last_slot < 0:
        out.extend(extra)
    out.extend(cell for cell in added if cell.id not in listed_ids)
    return out
