"""Run (app) mode over real WebSockets: a kernel thread per connection, code read-only."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import WsTab, console_text, make_config, of_type, serving

pytestmark = pytest.mark.timeout(120)
UI_MIME = "application/vnd.amphikernel.ui+json"


def write_app(path: Path, *sources: str) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


def kernel_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("amphi-kernel-")}


async def test_code_commands_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    path = write_app(tmp_path / "app.py", "secret = 41", "print('answer', secret + 1)")
    async with serving(make_config("run", path)) as server:
        tab = await WsTab.open(server.ws_url())
        snapshot = await tab.wait_for(of_type("notebook"))
        ids = [c["id"] for c in snapshot["cells"]]
        assert snapshot["mode"] == "run" and [c["source"] for c in snapshot["cells"]] == ["secret = 41", "print('answer', secret + 1)"]
        done = await tab.wait_for(of_type("completed-run"))
        assert done["cell_ids"] == ids
        assert console_text(tab.messages, ids[1]) == "answer 42\n"
        outputs_before = [m for m in tab.messages if m["type"] != "kernel-error"]
        forbidden = [
            {"type": "execute-cells", "cell_ids": [ids[1]], "codes": ["print('pwned')"]},
            {"type": "execute-cells", "cell_ids": ["x"], "codes": ["import os"]},
            {"type": "delete-cells", "cell_ids": [ids[0]]},
            {"type": "complete", "request_id": "r1", "code": "secr", "cursor": 4},
            {"type": "set-config", "semantics": "strict"},
            {"type": "install-packages", "packages": ["requests"]},
            {"type": "stop"},
            {"type": "save-notebook", "cells": []},
            {"type": "restart-kernel"},
            {"type": "made-up"},
        ]
        for message in forbidden:
            mark = len(tab.messages)
            await tab.send(message)
            error = await tab.wait_for(of_type("kernel-error"), since=mark, timeout=10)
            assert error["command_type"] == message["type"]
        mark = len(tab.messages)
        await tab.send(b"\xc1garbage")
        assert "malformed" in (await tab.wait_for(of_type("kernel-error"), since=mark))["message"]
        await asyncio.sleep(0.5)
        assert [m for m in tab.messages if m["type"] != "kernel-error"] == outputs_before  # no cell ran
        assert sum(m["type"] == "kernel-error" for m in tab.messages) == len(forbidden) + 1
        await tab.close()


async def test_ui_updates_and_input_replies_are_allowed(tmp_path: Path) -> None:
    path = write_app(
        tmp_path / "app.py",
        "from lifecycle import ui\ns = ui.slider(0, 10, value=1)\ns",
        "print('value', s.value)",
        "name = input('name? ')\nprint('hello', name)",
    )
    async with serving(make_config("run", path)) as server:
        tab = await WsTab.open(server.ws_url())
        ids = [c["id"] for c in (await tab.wait_for(of_type("notebook")))["cells"]]
        request = await tab.wait_for(of_type("input-request"))
        assert request["prompt"] == "name? " and request["cell_id"] == ids[2]
        await tab.send({"type": "input-reply", "request_id": request["request_id"], "text": "ada"})
        await tab.wait_for(of_type("completed-run"))
        assert console_text(tab.messages, ids[2]) == "hello ada\n"
        slider = next(m for m in tab.messages if m.get("type") == "cell-output" and UI_MIME in m["data"])
        element_id = slider["data"][UI_MIME]["id"]
        mark = len(tab.messages)
        await tab.send({"type": "update-ui-element", "values": {element_id: 7}})
        await tab.wait_for(of_type("completed-run"), since=mark)
        assert console_text(tab.messages[mark:], ids[1]) == "value 7\n"
        assert not any(m["type"] == "kernel-error" for m in tab.messages)
        await tab.close()


async def test_every_client_has_its_own_kernel(tmp_path: Path) -> None:
    path = write_app(
        tmp_path / "app.py",
        "import itertools\ncounter = itertools.count(1)",
        "from lifecycle import ui\nclicks = ui.slider(0, 100, value=0)\nclicks",
        "clicks.value\nprint('tick', next(counter))",
    )
    before = kernel_threads()
    async with serving(make_config("run", path)) as server:
        a, b = await WsTab.open(server.ws_url()), await WsTab.open(server.ws_url())
        for tab in (a, b):
            await tab.wait_for(of_type("completed-run"))
        last = a.messages[0]["cells"][2]["id"]
        assert len(kernel_threads() - before) == 2
        element = next(m for m in a.messages if m.get("type") == "cell-output" and UI_MIME in m["data"])["data"][UI_MIME]["id"]
        for value in (1, 2, 3):
            mark = len(a.messages)
            await a.send({"type": "update-ui-element", "values": {element: value}})
            await a.wait_for(of_type("completed-run"), since=mark)
        assert console_text(a.messages, last) == "tick 1\ntick 2\ntick 3\ntick 4\n"
        mark = len(b.messages)
        await b.send({"type": "update-ui-element", "values": {element: 50}})
        await b.wait_for(of_type("completed-run"), since=mark)
        assert console_text(b.messages, last) == "tick 1\ntick 2\n"  # a's clicks did not count here
        await a.close()
        deadline = asyncio.get_running_loop().time() + 10
        while len(kernel_threads() - before) != 1 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert len(kernel_threads() - before) == 1  # a's kernel stopped with its socket
        await b.close()
    await asyncio.sleep(0.2)
    assert kernel_threads() == before
