"""Fast paths of the run-mode server give exactly what the general paths give.

* :mod:`subprocess_host.server.ws_protocol`: uvicorn's per-message read pause is deferred to
  the end of the loop iteration and skipped when the application took the message in time;
  on a real socket transport, reading still pauses when the application lags (back-pressure).
* A run session hands a kernel thread the command the policy check already decoded
  (``ThreadKernel.takes_decoded``): the kernel's notifications are the same as for the raw
  frame, valid or refused by the kernel.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle import protocol
from subprocess_host.server.policy import Forward, classify
from subprocess_host.server.ws_protocol import _LazyPauseTransport
from subprocess_host.thread_kernel import ThreadKernel

pytestmark = pytest.mark.timeout(60)


async def _transport() -> tuple[asyncio.Transport, socket.socket]:
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(asyncio.Protocol, ours)
    return transport, theirs


async def test_a_pause_undone_in_the_same_iteration_never_pauses_the_socket() -> None:
    transport, peer = await _transport()
    try:
        lazy = _LazyPauseTransport(transport)
        lazy.pause_reading()
        lazy.resume_reading()  # the application took the message at once
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert transport.is_reading()
        assert lazy.is_reading()  # everything else is the wrapped transport's
    finally:
        transport.close()
        peer.close()


async def test_a_lagging_application_still_pauses_reading_until_it_resumes() -> None:
    transport, peer = await _transport()
    try:
        lazy = _LazyPauseTransport(transport)
        lazy.pause_reading()
        lazy.pause_reading()  # a second message while the first is still waiting
        assert transport.is_reading()  # not yet: the application may still take it
        await asyncio.sleep(0)
        assert not transport.is_reading()  # back-pressure, as uvicorn applies it
        lazy.resume_reading()
        assert transport.is_reading()
    finally:
        transport.close()
        peer.close()


async def test_a_pause_after_close_does_not_fail() -> None:
    transport, peer = await _transport()
    lazy = _LazyPauseTransport(transport)
    lazy.pause_reading()
    transport.close()
    peer.close()
    await asyncio.sleep(0)
    assert lazy.is_closing()


SLIDER = "from lifecycle import ui\ns = ui.slider(0, 100, value=0)\ns"
DOUBLE = "s.value * 2"


def _comparable(note: Any) -> Any:
    """A notification without what differs between two runs (timings, ids of runs)."""
    data = msgspec.to_builtins(note)
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k not in ("duration", "timestamp", "run_id", "elapsed")}
    return data


async def _session() -> tuple[ThreadKernel, list[Any], str]:
    kernel = ThreadKernel()
    notes: list[Any] = []
    kernel.on_notification(lambda note, frame: notes.append(note))
    await kernel.start()
    await kernel.wait_ready(30)
    await kernel.send(protocol.ExecuteCells(cell_ids=["a", "b"], codes=[SLIDER, DOUBLE], order=["a", "b"]))
    await _until_completed(notes)
    element = next(
        n.data["application/vnd.amphikernel.ui+json"]["id"]
        for n in notes
        if isinstance(n, protocol.CellOutput) and "application/vnd.amphikernel.ui+json" in n.data
    )
    notes.clear()
    return kernel, notes, element


async def _until_completed(notes: list[Any], count: int = 1) -> None:
    deadline = time.monotonic() + 30
    while sum(isinstance(n, (protocol.CompletedRun, protocol.KernelError)) for n in notes) < count:
        assert time.monotonic() < deadline, notes
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("value", [42, 1000])  # 1000: out of range, the kernel refuses it
async def test_a_decoded_command_gives_what_its_frame_gives(value: int) -> None:
    results = []
    for fast in (False, True):
        kernel, notes, element = await _session()
        try:
            frame = protocol.encode(protocol.UpdateUIElement(values={element: value}))
            decision = classify("run", frame)
            assert isinstance(decision, Forward)
            if fast:
                assert kernel.takes_decoded
                await kernel.send(decision.command)
            else:
                await kernel.send_frame(frame)
            await _until_completed(notes)
            await asyncio.sleep(0.05)  # anything sent after the run ended arrives too
            results.append([(type(n).__name__, _comparable(n)) for n in notes])
        finally:
            await kernel.shutdown()
    assert results[0] and results[0] == results[1]


@pytest.mark.timeout(120)
async def test_a_frame_larger_than_a_read_chunk_arrives_whole(tmp_path: Path) -> None:
    # Reads are RECV_CHUNK_BYTES at a time: a 1 MiB frame takes many reads, and runs intact.
    from lifecycle.notebook import Cell, Notebook, write_notebook
    from subprocess_host.server.ws_protocol import RECV_CHUNK_BYTES

    from .harness import WsTab, make_config, of_type, serving

    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source="1")]))
    payload = "y" * (16 * RECV_CHUNK_BYTES)
    code = f"s = {payload!r}\nprint(len(s), s == 'y' * {len(payload)})"
    async with serving(make_config("edit", path)) as server:
        tab = await WsTab.open(server.ws_url())
        await tab.wait_for(of_type("notebook"))
        await tab.send({"type": "execute-cells", "cell_ids": ["c0"], "codes": [code]})
        out = await tab.wait_for(of_type("cell-console", cell_id="c0"), timeout=60)
        assert out["text"] == f"{len(payload)} True\n"
        await tab.close()
