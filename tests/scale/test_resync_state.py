"""What an app process keeps for a session's resync (no I/O: subprocess_host.apps.resync)."""

from __future__ import annotations

from typing import Any

import msgspec

from lifecycle import protocol
from lifecycle.notebook import Cell
from subprocess_host.apps.resync import SessionResync, stable_cell_ids


def _feed(state: SessionResync, *notes: Any) -> None:
    for note in notes:
        state.note(note, protocol.encode(note))


def _decoded(state: SessionResync) -> list[dict[str, Any]]:
    return [msgspec.msgpack.decode(frame) for frame in state.frames()]


def test_widget_state_ui_values_order_and_files_are_kept() -> None:
    state = SessionResync()
    state.command(protocol.encode(protocol.ExecuteCells(cell_ids=["b", "a"], codes=["", ""], order=["a", "b"])))
    _feed(state,
          protocol.KernelReady(pid=7),
          protocol.CellStatus(cell_id="b", status="idle"),
          protocol.CellStatus(cell_id="a", status="idle"),
          protocol.WidgetModelUpdate(model_id="w", method="open", state={"value": 1, "label": "x"},
                                     buffer_paths=[["data"]], buffers=[b"\x00\x01"]),
          protocol.VirtualFileNotice(url="@file/1-a.png", filename="a.png", shm_name="amphi_1_a"),
          protocol.VirtualFileNotice(url="@file/2-b.csv", filename="b.csv", shm_name="amphi_1_b"))
    # The reader's own changes arrive as commands: they are part of the state too.
    state.command(protocol.encode(protocol.WidgetModel(model_id="w", state={"value": 5})))
    state.command(protocol.encode(protocol.UpdateUIElement(values={"slider": 42})))
    state.command(b"\xc1 not msgpack")  # ignored here (the kernel reports it)
    _feed(state, protocol.VirtualFileNotice(url="@file/2-b.csv", released=True))

    frames = _decoded(state)
    assert frames[0]["type"] == "kernel-ready"
    widget = next(f for f in frames if f["type"] == "widget-model-update")
    assert widget["method"] == "open" and widget["state"] == {"value": 5, "label": "x"}
    assert widget["buffer_paths"] == [["data"]] and widget["buffers"] == [b"\x00\x01"]
    assert [f["cell_id"] for f in frames if f["type"] == "cell-status"] == ["a", "b"]  # notebook order
    assert {"type": "ui-element-value", "element_id": "slider", "value": 42}.items() <= next(
        f for f in frames if f["type"] == "ui-element-value").items()
    assert [f["url"] for f in frames if f["type"] == "virtual-file"] == ["@file/1-a.png"]  # released: gone

    _feed(state, protocol.KernelDied(returncode=1, reason="boom"))
    frames = _decoded(state)
    assert not [f for f in frames if f["type"] == "virtual-file"]
    assert frames[-1]["type"] == "kernel-died"


def test_stable_cell_ids_are_the_same_for_every_reader_of_a_file() -> None:
    def cells() -> list[Cell]:
        return [Cell(id="r1", kind="code", source="x = 1"), Cell(id="r2", kind="code", source="x = 1"),
                Cell(id="r3", kind="markdown", source="# t")]

    one, two = cells(), cells()
    stable_cell_ids(one, "/srv/apps/a.py")
    stable_cell_ids(two, "/srv/apps/a.py")
    assert [c.id for c in one] == [c.id for c in two]
    assert len({c.id for c in one}) == 3  # same source, other index: other id
    other = cells()
    stable_cell_ids(other, "/srv/apps/b.py")
    assert not {c.id for c in one} & {c.id for c in other}
