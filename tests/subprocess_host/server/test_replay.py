"""What a (re)connecting tab is sent (pure bookkeeping on encoded notifications)."""

from __future__ import annotations

from typing import Any

import msgspec

from lifecycle import protocol
from subprocess_host.server.replay import ReplayState, extract_buffers, place_buffers


def feed(state: ReplayState, *notes: Any) -> list[bytes]:
    frames = []
    for note in notes:
        frame = protocol.encode(note)
        state.record(protocol.decode_notification(frame), frame)
        frames.append(frame)
    return frames


def types(frames: list[bytes]) -> list[str]:
    return [msgspec.msgpack.decode(f)["type"] for f in frames]


def test_latest_run_of_each_cell_is_replayed_as_the_kernel_sent_it() -> None:
    state = ReplayState()
    ready, *_ = feed(state, protocol.KernelReady(pid=1))
    feed(
        state,
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.CellConsole(cell_id="a", stream="stdout", text="old\n"),
        protocol.CellStatus(cell_id="a", status="idle"),
    )
    frames = feed(
        state,
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.CellConsole(cell_id="a", stream="stdout", text="new\n"),
        protocol.CellOutput(cell_id="a", data={"text/plain": "2"}, kind="result"),
        protocol.CellStatus(cell_id="a", status="idle"),
    )
    replay = state.frames(["a"])
    assert replay == [ready, frames[3], frames[1], frames[2]]  # status first, then outputs


def test_cells_follow_notebook_order_then_first_seen() -> None:
    state = ReplayState()
    feed(state, *(protocol.CellStatus(cell_id=c, status="idle") for c in ("z", "b", "a")))
    decoded = [msgspec.msgpack.decode(f)["cell_id"] for f in state.frames(["a", "b"])]
    assert decoded == ["a", "b", "z"]


def test_errored_ancestor_clears_outputs_and_errors_are_kept() -> None:
    state = ReplayState()
    feed(
        state,
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.CellError(cell_id="a", ename="ZeroDivisionError", evalue="x"),
        protocol.CellStatus(cell_id="a", status="idle"),
        protocol.CellStatus(cell_id="b", status="running"),
        protocol.CellOutput(cell_id="b", data={"text/plain": "1"}),
        protocol.CellStatus(cell_id="b", status="errored-ancestor"),
    )
    assert types(state.frames(["a", "b"])) == ["cell-status", "cell-error", "cell-status"]


def test_output_cap_replaces_the_excess_with_one_notice() -> None:
    state = ReplayState(max_frames_per_cell=3)
    feed(state, protocol.CellStatus(cell_id="a", status="running"))
    feed(state, *(protocol.CellConsole(cell_id="a", stream="stdout", text=f"{i}\n") for i in range(10)))
    replay = [msgspec.msgpack.decode(f) for f in state.frames(["a"])]
    assert [m.get("text") for m in replay[1:4]] == ["0\n", "1\n", "2\n"]
    assert replay[-1]["stream"] == "stderr" and "7 more output message(s)" in replay[-1]["text"]


def test_ui_values_variables_inputs_and_death() -> None:
    state = ReplayState()
    feed(
        state,
        protocol.KernelReady(pid=1),
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.InputRequest(request_id="r1", cell_id="a", prompt="name? "),
        protocol.UIElementValue(element_id="a/0", value=1),
        protocol.UIElementValue(element_id="a/0", value=2),
        protocol.Variables(cells={"a": []}),
    )
    replay = [msgspec.msgpack.decode(f) for f in state.frames(["a"])]
    assert [m["type"] for m in replay] == ["kernel-ready", "cell-status", "ui-element-value", "variables", "input-request"]
    assert replay[2]["value"] == 2
    state.answered("r1")
    assert "input-request" not in types(state.frames())
    feed(state, protocol.InputRequest(request_id="r2", cell_id="a"), protocol.KernelDied(returncode=-9))
    final = types(state.frames(["a"]))
    assert final[-1] == "kernel-died" and "input-request" not in final


def test_tab_ui_updates_are_replayed_and_returned_for_other_tabs() -> None:
    state = ReplayState()
    frames = state.record_ui_update({"a/0": 5, "a/1": "x"})
    assert [msgspec.msgpack.decode(f) for f in frames] == [
        {"type": "ui-element-value", "element_id": "a/0", "value": 5},
        {"type": "ui-element-value", "element_id": "a/1", "value": "x"},
    ]
    assert state.frames() == frames


def test_widget_state_is_merged_with_buffers_and_replayed_as_one_open() -> None:
    state = ReplayState()
    feed(
        state,
        protocol.WidgetModelUpdate(model_id="m", method="open", state={"x": 1, "data": None, "nested": {"b": None}},
                                   buffer_paths=[["data"]], buffers=[b"\x00\x01"]),
        protocol.WidgetModelUpdate(model_id="m", method="update", state={"x": 2, "nested": {}}, buffer_paths=[["nested", "b"]], buffers=[b"zz"]),
        protocol.WidgetModelUpdate(model_id="m", method="custom", content={"event": 1}),
        protocol.WidgetModelUpdate(model_id="gone", method="open", state={"y": 1}),
        protocol.WidgetModelUpdate(model_id="gone", method="close"),
    )
    tab_frame = state.record_widget_update(protocol.WidgetModel(model_id="m", state={"x": 3}))
    assert tab_frame is not None and msgspec.msgpack.decode(tab_frame).get("method", "update") == "update"
    replay = [msgspec.msgpack.decode(f) for f in state.frames()]
    assert len(replay) == 1
    opened = replay[0]
    assert opened["method"] == "open" and opened["model_id"] == "m"
    rebuilt = place_buffers(opened["state"], opened["buffer_paths"], opened["buffers"])
    assert rebuilt == {"x": 3, "data": b"\x00\x01", "nested": {"b": b"zz"}}


def test_extract_and_place_buffers_round_trip() -> None:
    original = {"a": b"1", "list": [1, b"2", {"c": b"3"}], "plain": "x"}
    plain, paths, buffers = extract_buffers(original)
    assert plain == {"list": [1, None, {}], "plain": "x"}
    assert paths == [["a"], ["list", 1], ["list", 2, "c"]]
    assert place_buffers(plain, paths, buffers) == original
    assert place_buffers({"a": 1}, [["missing", "deep"]], [b"x"]) == {"a": 1}


def test_reset_and_forget_cells() -> None:
    state = ReplayState()
    feed(state, protocol.KernelReady(), protocol.CellStatus(cell_id="a", status="idle"),
         protocol.CellStatus(cell_id="b", status="running"), protocol.InputRequest(request_id="r", cell_id="b"))
    state.forget_cells(["b"])
    assert types(state.frames()) == ["kernel-ready", "cell-status"]
    state.reset()
    assert state.frames() == []


def decoded(frames: list[bytes]) -> list[Any]:
    return [protocol.decode_notification(f) for f in frames]


def test_display_updates_replace_the_kept_frames_in_place() -> None:
    state = ReplayState()
    feed(
        state,
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.CellOutput(cell_id="a", data={"text/plain": "0%"}, display_id="bar"),
        protocol.CellOutput(cell_id="a", data={"text/plain": "plain"}),
        protocol.CellStatus(cell_id="a", status="idle"),
        protocol.CellStatus(cell_id="b", status="running"),
        protocol.CellOutput(cell_id="b", data={"text/plain": "bar again"}, kind="result", display_id="bar"),
    )
    for step in range(1, 1001):  # a progress bar updated from another cell: no growth
        feed(state, protocol.UpdateDisplay(display_id="bar", cell_id="b", data={"text/plain": f"{step / 10:.1f}%"}))
    feed(state, protocol.UpdateDisplay(display_id="unknown", data={"text/plain": "ignored"}))
    outputs = [n for n in decoded(state.frames(["a", "b"])) if isinstance(n, protocol.CellOutput)]
    assert [(o.cell_id, o.data["text/plain"], o.kind, o.display_id) for o in outputs] == [
        ("a", "100.0%", "display", "bar"), ("a", "plain", "display", None), ("b", "100.0%", "result", "bar"),
    ]
    assert state.cells["a"].size == sum(len(f) for f in state.cells["a"].outputs)  # the cap's count
    feed(state, protocol.CellStatus(cell_id="a", status="running"))  # a re-run forgets the id
    feed(state, protocol.UpdateDisplay(display_id="bar", data={"text/plain": "late"}))
    outputs = [n for n in decoded(state.frames(["a", "b"])) if isinstance(n, protocol.CellOutput)]
    assert [(o.cell_id, o.data["text/plain"]) for o in outputs] == [("b", "late")]


def test_clear_output_now_and_pending() -> None:
    state = ReplayState()
    feed(
        state,
        protocol.CellStatus(cell_id="a", status="running"),
        protocol.CellConsole(cell_id="a", stream="stdout", text="old\n"),
        protocol.ClearOutput(cell_id="a"),
        protocol.CellOutput(cell_id="a", data={"text/plain": "frame 1"}),
        protocol.ClearOutput(cell_id="a", wait=True),
    )
    replay = decoded(state.frames(["a"]))
    assert [type(n).__name__ for n in replay] == ["CellStatus", "CellOutput", "ClearOutput"]  # the pending clear too
    assert replay[1].data == {"text/plain": "frame 1"} and replay[2].wait
    feed(state, protocol.CellOutput(cell_id="a", data={"text/plain": "frame 2"}))
    replay = decoded(state.frames(["a"]))
    assert [n.data["text/plain"] for n in replay if isinstance(n, protocol.CellOutput)] == ["frame 2"]
    assert not any(isinstance(n, protocol.ClearOutput) for n in replay)
