"""Batched ``frames`` messages (subprocess_host/server/batching.py) over real WebSockets.

A tab that asks (``/ws?batch=1``) reads, item by item, exactly the frames a tab that did not
ask reads one message each; a tab that did not ask never sees a ``frames`` message.  The
writer's batching itself (order, size cap, backlog accounting) is checked on the tab's queue.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect

from lifecycle import protocol
from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.server.batching import (
    FRAMES_TYPE,
    MAX_BATCH_BYTES,
    encode_batch,
    split_message,
)
from subprocess_host.server.ws import WebSocketTab

from .harness import make_config, serving

pytestmark = pytest.mark.timeout(120)
UI_MIME = "application/vnd.amphikernel.ui+json"


class RawTab:
    """A client keeping every WebSocket message as received (bytes)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.raw: list[bytes] = []
        self.frames: list[dict[str, Any]] = []

    async def __aenter__(self) -> RawTab:
        self.ws = await connect(self.url, max_size=None, open_timeout=20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def until(self, kind: str, count: int = 1, timeout: float = 60) -> None:
        """Read until ``count`` frames of type ``kind`` (items of batches included) arrived."""
        async def read() -> None:
            while sum(f["type"] == kind for f in self.frames) < count:
                message = await self.ws.recv()
                assert isinstance(message, bytes)
                self.raw.append(message)
                self.frames.extend(msgspec.msgpack.decode(one) for one in split_message(message))

        await asyncio.wait_for(read(), timeout)


def logical(frames: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a page acts on (kernel timestamps and pids differ between two kernels)."""
    return [(f["type"], f.get("cell_id"), f.get("status"), f.get("data"), f.get("cell_ids"), f.get("cells"))
            for f in frames if f["type"] != "kernel-ready"]


async def test_a_batching_tab_reads_the_same_frames_as_a_plain_one(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    write_notebook(path, Notebook(cells=[
        Cell(id="s", kind="code", source="from lifecycle import ui\ns = ui.slider(0, 100, value=1)\ns"),
        Cell(id="d", kind="code", source="print('moved', s.value)\ns.value * 2"),
    ]))
    async with serving(make_config("run", path)) as server:
        async with RawTab(server.ws_url(batch="1")) as batched, RawTab(server.ws_url()) as plain:
            for tab in (batched, plain):
                await tab.until("completed-run")
            for value in (5, 6, 7):
                for tab in (batched, plain):
                    element = next(f["data"][UI_MIME]["id"] for f in tab.frames
                                   if f["type"] == "cell-output" and UI_MIME in f.get("data", {}))
                    await tab.ws.send(msgspec.msgpack.encode({"type": "update-ui-element", "values": {element: value}}))
                    await tab.until("completed-run", 1 + value - 4)
            assert logical(batched.frames) == logical(plain.frames)
            assert any(f["type"] == "cell-output" and f["data"].get("text/plain") == "14" for f in batched.frames)
            # The plain tab got one frame per message; the batching one got batches, whose
            # items are ordinary frames (never a batch inside a batch).
            assert all(msgspec.msgpack.decode(m)["type"] != FRAMES_TYPE for m in plain.raw)
            batches = [m for m in batched.raw if msgspec.msgpack.decode(m)["type"] == FRAMES_TYPE]
            assert batches and len(batched.raw) < len(plain.raw)
            for batch in batches:
                items = split_message(batch)
                assert len(items) >= 2
                assert all(msgspec.msgpack.decode(item)["type"] != FRAMES_TYPE for item in items)


def test_the_writer_batches_in_order_within_the_size_cap_and_keeps_the_backlog_right() -> None:
    tab = WebSocketTab(None, "t", max_backlog=64 * 1024 * 1024, batch=True)  # type: ignore[arg-type]
    tab.go_live()
    small = [protocol.encode(protocol.KernelError(message=f"m{i}")) for i in range(10)]
    big = protocol.encode(protocol.KernelError(message="x" * MAX_BATCH_BYTES))
    sequence = [*small[:3], big, *small[3:], big, big, *small[:1]]
    for frame in sequence:
        tab.send(frame)
    messages: list[bytes] = []
    while tab._queue:
        messages.append(tab._next_message())
    assert [f for m in messages for f in split_message(m)] == sequence  # nothing lost, in order
    assert tab._backlog == 0
    for message in messages:
        items = split_message(message)
        assert len(items) == 1 or sum(map(len, items)) <= MAX_BATCH_BYTES
        if len(items) == 1:
            assert message == items[0]  # a lone frame is sent as itself
    assert messages.count(big) == 3  # too big to share a message


def test_a_tab_that_did_not_ask_gets_every_frame_as_itself() -> None:
    tab = WebSocketTab(None, "t", max_backlog=1 << 20)  # type: ignore[arg-type]
    frames = [protocol.encode(protocol.KernelError(message=f"m{i}")) for i in range(5)]
    for frame in frames:
        tab.send(frame)
    assert [tab._next_message() for _ in frames] == frames


def test_split_message_round_trips_and_leaves_other_frames_alone() -> None:
    frames = [protocol.encode(protocol.KernelError(message="a")), b"\x80", b""]
    assert split_message(encode_batch(frames)) == frames
    lone = protocol.encode(protocol.KernelError(message="frames"))
    assert split_message(lone) == [lone]
