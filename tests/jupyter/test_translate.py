"""The translation rules on their own (no sockets): slots of a dependent cell that now shows
fewer or more outputs, earlier runs' ends, silent cells, binary payloads, widget buffers."""

from __future__ import annotations

import pytest

from lifecycle import protocol as p
from subprocess_host.jupyter.comms import CommBridge, place_buffers, split_buffers
from subprocess_host.jupyter.translate import RunState, Translator

pytestmark = pytest.mark.timeout(30)


def _show(t: Translator, cell: str, outputs: int) -> list[str]:
    t.begin(RunState(cell, execution_count=1))
    t.translate(p.CellStatus(cell_id=cell, status="running"))
    ids = []
    for i in range(outputs):
        [msg] = t.translate(p.CellOutput(cell_id=cell, data={"text/plain": str(i)}))
        ids.append(msg.content["transient"]["display_id"])
    t.translate(p.CompletedRun(cell_ids=[cell]))
    return ids


def test_dependent_with_fewer_and_more_outputs_than_slots() -> None:
    t = Translator()
    slots = _show(t, "B", 2)
    assert len(set(slots)) == 2
    t.begin(RunState("A", execution_count=2))
    out = t.translate(p.CellStatus(cell_id="A", status="running"))
    out += t.translate(p.CellStatus(cell_id="B", status="running"))
    out += t.translate(p.CellOutput(cell_id="B", data={"text/plain": "new"}))
    out += t.translate(p.CompletedRun(cell_ids=["A", "B"]))
    assert [(m.msg_type, m.content["transient"]["display_id"], m.content["data"]) for m in out] == [
        ("update_display_data", slots[0], {"text/plain": "new"}),
        ("update_display_data", slots[1], {"text/plain": ""}),  # no longer filled: emptied
    ]
    assert t.run is not None and t.run.done
    t.begin(RunState("A", execution_count=3))
    t.translate(p.CellStatus(cell_id="B", status="running"))
    out = [t.translate(p.CellOutput(cell_id="B", data={"text/plain": str(i)})) for i in range(3)]
    kinds = [m.msg_type for msgs in out for m in msgs]
    assert kinds == ["update_display_data", "update_display_data", "display_data"]  # the third: a new output


def test_an_earlier_runs_end_does_not_end_this_run() -> None:
    t = Translator()
    t.begin(RunState("X", execution_count=1))
    t.translate(p.CompletedRun(cell_ids=["W"]))  # a widget change's run, not waited for
    assert t.run is not None and not t.run.done
    t.translate(p.CellStatus(cell_id="X", status="queued"))
    t.translate(p.CompletedRun(cell_ids=["X"]))
    assert t.run.done


def test_silent_cells_stay_silent_and_binary_payloads_are_base64() -> None:
    t = Translator()
    t.begin(RunState("S", silent=True))
    t.translate(p.CellStatus(cell_id="S", status="running"))
    assert t.translate(p.CellConsole(cell_id="S", stream="stdout", text="x")) == []
    t.begin(RunState("A", execution_count=1))
    t.translate(p.CellStatus(cell_id="S", status="running"))
    assert t.translate(p.CellOutput(cell_id="S", data={"text/plain": "1"})) == []
    t.translate(p.CellStatus(cell_id="A", status="running"))
    [msg] = t.translate(p.CellOutput(cell_id="A", kind="result", data={"image/png": b"\x89PNG", "text/plain": "<img>"}))
    assert msg.msg_type == "execute_result" and msg.content["execution_count"] == 1
    assert msg.content["data"]["image/png"] == "iVBORw=="


def test_widget_buffers_and_state_cache() -> None:
    state = {"a": 1, "v": {"x": [b"\x00", 2]}}
    plain, paths, bufs = split_buffers(state)
    assert plain == {"a": 1, "v": {"x": [None, 2]}} and paths == [["v", "x", 0]] and bufs == [b"\x00"]
    assert place_buffers(plain, paths, bufs) == state
    comms = CommBridge()
    [opened] = comms.from_kernel(p.WidgetModelUpdate(model_id="m", method="open", state={"n": 1, "b": None},
                                                     buffer_paths=[["b"]], buffers=[b"\x01"]))  # fmt: skip
    assert opened.msg_type == "comm_open" and opened.buffers == [b"\x01"]
    commands, replies = comms.comm_msg({"comm_id": "m", "data": {"method": "update", "state": {"n": 2}}}, [])
    assert replies == [] and isinstance(commands[0], p.WidgetModel) and commands[0].state == {"n": 2}
    _, [reply] = comms.comm_msg({"comm_id": "m", "data": {"method": "request_state"}}, [])
    assert reply.content["data"] == {"method": "update", "state": {"n": 2, "b": None}, "buffer_paths": [["b"]]}
    assert reply.buffers == [b"\x01"]
    assert comms.comm_msg({"comm_id": "unknown", "data": {"method": "update"}}, []) == ([], [])


def test_results_of_named_cells_are_display_data() -> None:
    t = Translator()
    t.begin(RunState("N", execution_count=4, result_as_display=True))
    t.translate(p.CellStatus(cell_id="N", status="running"))
    [msg] = t.translate(p.CellOutput(cell_id="N", kind="result", data={"text/plain": "1"}))
    assert msg.msg_type == "display_data" and "execution_count" not in msg.content
    assert t.run is not None and t.run.result_text == "1"  # history still has it
