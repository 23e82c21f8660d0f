"""Session logic without HTTP: real kernels, tabs that record what they are sent."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.server.kernels import edit_kernel, run_kernel
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.session import EditSession, RunSession

from .harness import encode, of_type, pid_alive

pytestmark = pytest.mark.timeout(120)


class RecordingTab:
    """A tab that keeps every frame it is sent (raw and decoded)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [msgspec.msgpack.decode(f) for f in self.frames]

    async def wait_for(self, predicate: Any, since: int = 0, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages[since:]:
                if predicate(message):
                    return message
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no match in {[m['type'] for m in self.messages[since:]]}")


def notebook_file(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


async def test_edit_session_fans_out_raw_frames_and_replays_to_a_late_tab(tmp_path: Path) -> None:
    document = NotebookDocument.open(notebook_file(tmp_path, "x = 1"), create=False)
    session = EditSession(document, lambda: edit_kernel(document.path, "script", None))
    a, b = RecordingTab("a"), RecordingTab("b")
    session.attach(a)
    session.attach(b)
    session.start()
    try:
        assert a.messages[0]["type"] == "notebook" and a.messages[0]["mode"] == "edit"
        cell_id = document.cell_ids()[0]
        await session.handle_frame(a, encode({"type": "execute-cells", "cell_ids": [cell_id, "new"],
                                              "codes": ["x = 41", "print('out', x + 1)"]}))
        await a.wait_for(of_type("completed-run"))
        await b.wait_for(of_type("completed-run"))
        kernel_frames_a = [f for f in a.frames if msgspec.msgpack.decode(f)["type"] != "notebook"]
        kernel_frames_b = [f for f in b.frames if msgspec.msgpack.decode(f)["type"] != "notebook"]
        assert kernel_frames_a == kernel_frames_b  # byte-identical: forwarded raw
        assert any(m.get("text") == "out 42\n" for m in b.messages)
        # Tab b (not the sender) was told the notebook changed; tab a was not.
        snapshots_b = [m for m in b.messages if m["type"] == "notebook"]
        assert len(snapshots_b) == 2 and [c["source"] for c in snapshots_b[1]["cells"]] == ["x = 41", "print('out', x + 1)"]
        assert sum(m["type"] == "notebook" for m in a.messages) == 1
        assert snapshots_b[1]["saved"] is False

        late = RecordingTab("late")
        session.attach(late)
        replay = late.messages
        assert replay[0]["type"] == "notebook" and replay[0]["cells"][1]["id"] == "new"
        assert replay[1]["type"] == "kernel-ready"
        assert any(m["type"] == "cell-console" and m["text"] == "out 42\n" for m in replay)
        assert [m["status"] for m in replay if m["type"] == "cell-status"] == ["idle", "idle"]

        # A malformed frame is answered to its sender only.
        before_b = len(b.frames)
        await session.handle_frame(a, b"\xc1")
        assert a.messages[-1]["type"] == "kernel-error"
        assert len(b.frames) == before_b
    finally:
        pid = session.kernel.pid  # type: ignore[union-attr]
        await session.close()
    assert pid is not None and not pid_alive(pid)
    assert a.closed is not None and a.closed[0] == 1001


async def test_run_session_runs_every_cell_and_refuses_code(tmp_path: Path) -> None:
    document = NotebookDocument.open(notebook_file(tmp_path, "n = 0", "print('n is', n)"), create=False)
    session = RunSession(document, lambda: run_kernel("script"))
    tab = RecordingTab("reader")
    session.attach(tab)
    session.start()
    try:
        done = await tab.wait_for(of_type("completed-run"))
        assert done["cell_ids"] == document.cell_ids()
        assert any(m.get("text") == "n is 0\n" for m in tab.messages)
        mark = len(tab.frames)
        for forbidden in (
            {"type": "execute-cells", "cell_ids": ["c1"], "codes": ["print('pwned')"]},
            {"type": "delete-cells", "cell_ids": ["c0"]},
            {"type": "complete", "request_id": "r", "code": "pri", "cursor": 3},
            {"type": "save-notebook", "cells": []},
        ):
            await session.handle_frame(tab, encode(forbidden))
            error = tab.messages[-1]
            assert error["type"] == "kernel-error" and error["command_type"] == forbidden["type"]
        await asyncio.sleep(0.3)
        after = tab.messages[mark:]
        assert [m["type"] for m in after] == ["kernel-error"] * 4  # nothing ran
        assert session.replay is None  # app readers never reconnect to a kernel
    finally:
        await session.close()
    assert session.kernel is not None and session.kernel.poll() == 0  # type: ignore[union-attr]
