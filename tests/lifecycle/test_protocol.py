"""The protocol codec: tagged unions, schema evolution rules, never crashing a peer."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import msgspec
import pytest

from lifecycle import protocol as P

COMMANDS = [
    P.ExecuteCells(cell_ids=["a"], codes=["x = 1"], order=["a"]),
    P.DeleteCells(cell_ids=["a"]),
    P.UpdateUIElement(values={"s/0": 3, "t/1": "hi"}),
    P.WidgetModel(model_id="m", state={"count": 1}, buffer_paths=[["data"]], buffers=[b"\x00\x01"]),
    P.Interrupt(),
    P.Stop(),
    P.SetConfig(semantics="strict", output_max_bytes=10),
    P.InputReply(request_id="r1", text="yes"),
    P.Complete(request_id="q", code="pri", cursor=3),
    P.InstallPackages(packages=["attrs"]),
    P.StoppedAck(),
]

NOTIFICATIONS = [
    P.KernelReady(capabilities=["interrupt"], python="3.12.1", pid=1),
    P.CellStatus(cell_id="a", status="errored-ancestor"),
    P.CellOutput(cell_id="a", data={"image/png": b"\x89PNG\r\n", "text/plain": "img"}),
    P.CellConsole(cell_id="a", stream="stderr", text="oops\n"),
    P.CellError(cell_id="a", ename="ValueError", evalue="bad", frames=[P.TracebackFrame("<cell a>", 1, "<module>", cell_id="a")]),
    P.CompletedRun(cell_ids=["a"]),
    P.UIElementValue(element_id="s/0", value=1.5),
    P.WidgetModelUpdate(model_id="m", method="open", state={"v": 1}, buffers=[b"x"], buffer_paths=[["b"]]),
    P.InputRequest(request_id="r", prompt="name? "),
    P.CompletionResult(request_id="q", completions=[P.Completion(name="print", kind="function")]),
    P.Variables(cells={"a": [P.VariableInfo(name="x", type="int", repr="1")]}),
    P.KernelError(message="m"),
    P.PackagesInstalled(installed=["attrs"]),
    P.KernelStopped(),
    P.KernelDied(returncode=-9, reason="killed"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_command_round_trip(command: object) -> None:
    assert P.decode_command(P.encode(command)) == command  # type: ignore[arg-type]


@pytest.mark.parametrize("note", NOTIFICATIONS, ids=lambda n: type(n).__name__)
def test_notification_round_trip(note: object) -> None:
    assert P.decode_notification(P.encode(note)) == note  # type: ignore[arg-type]


def test_every_tag_is_kebab_case_and_unique() -> None:
    tags = list(P.COMMAND_TYPES) + list(P.NOTIFICATION_TYPES)
    assert len(tags) == len(set(tags))
    assert all(t == t.lower() and "_" not in t for t in tags)
    assert {"execute-cells", "delete-cells", "update-ui-element", "widget-model", "interrupt", "stop",
            "set-config", "input-reply", "complete", "install-packages"} <= set(P.COMMAND_TYPES)


def test_binary_is_msgpack_bin_and_nan_survives() -> None:
    frame = P.encode(P.CellOutput(cell_id="a", data={"image/png": b"\xff" * 4, "x": math.inf, "y": math.nan}))
    raw = msgspec.msgpack.decode(frame)
    assert isinstance(raw["data"]["image/png"], bytes)  # bin, not base64 text
    back = P.decode_notification(frame)
    assert back.data["x"] == math.inf and math.isnan(back.data["y"])


def test_unknown_fields_ignored() -> None:
    frame = msgspec.msgpack.encode({"type": "execute-cells", "cell_ids": ["a"], "codes": ["1"], "future": {"x": 1}})
    assert P.decode_command(frame) == P.ExecuteCells(cell_ids=["a"], codes=["1"])


def test_unknown_notification_passes_through_untouched() -> None:
    frame = msgspec.msgpack.encode({"type": "hologram", "depth": 3})
    note = P.decode_notification(frame)
    assert isinstance(note, P.UnknownNotification) and note.type == "hologram"
    assert P.encode(note) == frame


@pytest.mark.parametrize(
    "frame, command_type, words",
    [
        (msgspec.msgpack.encode({"type": "teleport"}), "teleport", "unknown command type"),
        (msgspec.msgpack.encode({"type": "execute-cells", "codes": []}), "execute-cells", "cell_ids"),
        (msgspec.msgpack.encode({"type": "delete-cells", "cell_ids": "a"}), "delete-cells", "Expected `array`"),
        (P.encode(P.ExecuteCells(cell_ids=["a"], codes=["1"]))[:-2], None, "truncated"),
        (b"\xc1", None, "malformed"),
        (msgspec.msgpack.encode([1, 2]), None, "Expected `object`"),
    ],
)
def test_bad_command_frames_give_clear_errors(frame: bytes, command_type: str | None, words: str) -> None:
    with pytest.raises(P.CommandDecodeError) as info:
        P.decode_command(frame)
    note = info.value.to_notification()
    assert isinstance(note, P.KernelError)
    assert note.command_type == command_type
    assert words in note.message


def test_malformed_notification_raises_protocol_error() -> None:
    with pytest.raises(P.ProtocolError):
        P.decode_notification(b"\x82\xa4ty")


@pytest.mark.skipif(sys.platform == "emscripten", reason="needs subprocesses (Pyodide cannot spawn processes)")
def test_schema_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "lifecycle.protocol", "--schema"], capture_output=True, text=True, check=True, timeout=60)
    schema = json.loads(out.stdout)
    assert schema["protocol_version"] == P.PROTOCOL_VERSION
    assert "ExecuteCells" in schema["$defs"] and "CellOutput" in schema["$defs"]
    assert len(schema["commands"]["anyOf"]) == len(P.COMMAND_TYPES)
    bad = subprocess.run([sys.executable, "-m", "lifecycle.protocol"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage" in bad.stderr
