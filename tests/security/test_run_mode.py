"""Run mode never executes code sent by a reader, whatever the frame (real server).

A reader (who has the page, so the token) sends every way of asking for code to run that the
protocol or a bug in it could offer: each command type a reader may not send, with code that
would create a marker file; the same frames with the type spelt differently, as ``bin``, twice
in one map, hidden in an allowed command's values, behind an allowed frame, as a text frame;
and a fixed-seed flood of mutated frames built from code-carrying commands.  The marker file
never appears, the notebook file is unchanged, and the reader's own session still works
(its slider still drives the dependent cell).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle import protocol
from lifecycle.notebook import Cell, Notebook, write_notebook
from tests.fuzz import corpus
from tests.subprocess_host.server.harness import WsTab, make_config, serving

pytestmark = pytest.mark.timeout(300)


def attack_frames(marker: Path) -> list[bytes | str]:
    """Frames that would create ``marker`` if any code they carry ran."""
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    enc = msgspec.msgpack.encode
    execute = {"type": "execute-cells", "cell_ids": ["evil"], "codes": [code]}
    frames: list[bytes | str] = [
        enc(execute),
        enc({**execute, "order": ["evil"]}),
        enc({"type": "execute-cells", "cell_ids": ["c0"], "codes": [code]}),  # replace a notebook cell
        enc({"type": "set-config", "autorun": True, "semantics": "strict"}),
        enc({"type": "delete-cells", "cell_ids": ["c0"]}),
        enc({"type": "install-packages", "packages": [f"evil @ file://{marker}"]}),
        enc({"type": "complete", "request_id": "r", "code": code, "cursor": 3}),
        enc({"type": "save-notebook", "cells": [{"id": "x", "source": code}]}),
        enc({"type": "restart-kernel"}),
        enc({"type": "stop"}),
        enc({"type": "stopped-ack"}),
        # The type spelt otherwise.
        enc({**execute, "type": "Execute-Cells"}),
        enc({**execute, "type": "execute-cells\x00"}),
        enc({**execute, "type": " execute-cells"}),
        enc({**execute, "type": "execute_cells"}),
        enc({**execute, "type": b"execute-cells"}),
        enc({**execute, "type": ["execute-cells"]}),
        # Two type keys, allowed one first or last.
        b"\x84\xa4type\xb1update-ui-element\xa4type\xadexecute-cells"
        + b"\xa8cell_ids\x91\xa4evil\xa5codes\x91" + enc(code),
        b"\x84\xa4type\xadexecute-cells\xa4type\xb1update-ui-element"
        + b"\xa8cell_ids\x91\xa4evil\xa5codes\x91" + enc(code),
        # Code inside allowed commands.
        enc({"type": "update-ui-element", "values": {"evil": execute}}),
        enc({"type": "widget-model", "model_id": "m", "method": "custom", "content": execute}),
        enc({"type": "input-reply", "request_id": "r", "text": code}),
        enc({"type": "interrupt", "codes": [code], "cell_ids": ["evil"]}),
        # An allowed frame with an execute frame behind it, and a text frame.
        enc({"type": "interrupt"}) + enc(execute),
        msgspec.json.encode(execute).decode(),
        enc(execute) + b"\x00" * 1000,
    ]
    return frames


def flood(marker: Path, count: int) -> list[bytes]:
    """``count`` mutated frames built from code-carrying commands (fixed seed)."""
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    base = [
        protocol.encode(protocol.ExecuteCells(cell_ids=["evil"], codes=[code])),
        protocol.encode(protocol.SetConfig(autorun=True)),
        protocol.encode(protocol.DeleteCells(cell_ids=["c0"])),
        protocol.encode(protocol.UpdateUIElement(values={"x": 1})),
        protocol.encode(protocol.Interrupt()),
    ]
    return [frame for _, frame in corpus.frames(count, base, seed=16, oversized=False)]


async def test_run_mode_never_executes_code_sent_by_a_reader(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    notebook = tmp_path / "app.py"
    write_notebook(notebook, Notebook(cells=[
        Cell(id="c0", kind="code", source="from lifecycle import ui\ns = ui.slider(0, 10, value=2)\ns"),
        Cell(id="c1", kind="code", source="s.value * 10"),
    ]))  # fmt: skip
    before = notebook.read_bytes()
    async with serving(make_config("run", notebook)) as server:
        tab = await WsTab.open(server.ws_url())
        try:
            snapshot = await tab.wait_for(lambda m: m.get("type") == "notebook", timeout=90)
            c1 = snapshot["cells"][1]["id"]  # percent files keep no ids: the server made them
            first = await tab.wait_for(lambda m: _output(m, c1) == "20", timeout=90)
            slider = _slider_id(tab.messages)
            assert first and slider
            for frame in attack_frames(marker):
                await tab.ws.send(frame)
            for frame in flood(marker, 3000):
                await tab.ws.send(frame)
            # The reader's own session still works, after every frame above was handled.
            mark = len(tab.messages)
            await tab.send({"type": "update-ui-element", "values": {slider: 7}})
            try:
                await tab.wait_for(lambda m: _output(m, c1) == "70", since=mark, timeout=90)
                serving_still = True
            except TimeoutError:
                serving_still = False
            refused: Any = [m for m in tab.messages if m.get("type") == "kernel-error"]
        finally:
            await tab.close()
    assert not marker.exists(), "code sent by a reader ran in run mode"
    assert notebook.read_bytes() == before
    assert refused, "nothing was refused"
    assert serving_still, "the reader's session stopped working"


def _output(message: dict[str, Any], cell_id: str) -> str | None:
    if message.get("type") != "cell-output" or message.get("cell_id") != cell_id:
        return None
    return message["data"].get("text/plain")


def _slider_id(messages: list[dict[str, Any]]) -> str:
    from lifecycle import ui

    for message in messages:
        if message.get("type") == "cell-output" and ui.UI_MIME in message["data"]:
            return message["data"][ui.UI_MIME]["id"]
    raise AssertionError("no slider output")
