"""What a page needs to resynchronise with a session, kept inside the app process.

Server instances are relays: the state a (re)connecting reader is sent lives with its
session in the app process, so that any server instance can attach to any session.  A
:class:`SessionResync` is fed every notification the session's kernel thread emits
(:meth:`SessionResync.note`) and every command frame its reader sends
(:meth:`SessionResync.command`: UI values, widget state, answered input requests, the cell
order of ``execute-cells``), and gives the frames a newly attached instance forwards to the
page (:meth:`SessionResync.frames`): the :class:`~subprocess_host.server.replay.ReplayState`
replay (kernel state, cell statuses and outputs, UI values, widget models, variables,
pending input requests) followed by the ``virtual-file`` announcements still valid, so the
new instance can serve ``/@file/`` from the app's shared memory.

Pure bookkeeping, no I/O; the caller serialises access (the app's send lock).
"""

from __future__ import annotations

import hashlib
from typing import Any

from lifecycle import protocol
from subprocess_host.server.replay import ReplayState


def stable_cell_ids(cells: list[Any], seed: str) -> None:
    """Give ``cells`` (:class:`lifecycle.notebook.Cell`) ids that every server instance
    computes alike for the same notebook (``seed``: its path; the id hashes the seed, the
    cell's index and its source), replacing ids a percent file does not store and each
    reader of the file would otherwise draw at random.  A resumed session's frames name its
    cells by these ids, whichever instance opened the notebook."""
    for index, cell in enumerate(cells):
        digest = hashlib.sha256(f"{seed}\0{index}\0{cell.source}".encode("utf-8", "replace")).hexdigest()
        cell.id = f"c{digest[:12]}"


class SessionResync:
    """The resync state of one session (see the module docstring)."""

    def __init__(self) -> None:
        self.replay = ReplayState()
        self.order: list[str] = []
        self.files: dict[str, bytes] = {}
        """file URL -> its ``virtual-file`` frame (dropped when the kernel dies)."""

    def note(self, note: Any, frame: bytes) -> None:
        """A notification the kernel emitted (``frame``: its encoded bytes)."""
        if isinstance(note, protocol.VirtualFileNotice):
            if note.released:
                self.files.pop(note.url, None)
            else:
                self.files[note.url] = frame
        elif isinstance(note, protocol.KernelDied):
            self.files.clear()
        self.replay.record(note, frame)

    def command(self, frame: bytes) -> None:
        """A command frame the reader sent (undecodable frames are ignored here: the kernel
        reports them)."""
        try:
            command = protocol.decode_command(frame)
        except Exception:
            return
        if isinstance(command, protocol.UpdateUIElement):
            self.replay.record_ui_update(command.values)
        elif isinstance(command, protocol.WidgetModel):
            self.replay.record_widget_update(command)
        elif isinstance(command, protocol.InputReply):
            self.replay.answered(command.request_id)
        elif isinstance(command, protocol.ExecuteCells) and not self.order:
            self.order = list(command.order or command.cell_ids)

    def frames(self) -> list[bytes]:
        """The frames a newly attached instance sends its page, in order."""
        return [*self.replay.frames(self.order), *self.files.values()]
