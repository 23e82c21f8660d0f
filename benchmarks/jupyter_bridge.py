"""Jupyter-bridge benchmarks (``python -m benchmarks jupyter``): a real ``amphi`` kernelspec in a
private Jupyter directory, driven by jupyter_client, each figure beside its floor measured in
the same run on a bare kernel subprocess (:class:`subprocess_host.client.KernelClient`, no
Jupyter wire):

* ``interrupt_request`` -> ``execute_reply`` of ``while True: pass`` (target < 1 s; floor:
  SIGINT to the kernel subprocess -> its ``completed-run``);
* a trivial ``execute_request`` -> ``execute_reply`` + ``idle`` (floor: ``execute-cells`` ->
  ``completed-run``);
* a reactive re-run: ``execute_request`` of the upstream cell -> the dependent's
  ``update_display_data`` (floor: ``execute-cells`` -> the dependent's ``cell-output``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from typing import Any

from benchmarks.report import Figure, print_figures
from lifecycle import protocol
from subprocess_host.client import KernelClient

RUNS = 10


def _request(kc: Any, code: str, cell_id: str) -> str:
    body = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
            "stop_on_error": False}  # fmt: skip
    msg = kc.session.msg("execute_request", body, metadata={"cellId": cell_id})
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def _until(kc: Any, msg_id: str, match: Any) -> None:
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and match(msg):
            return


def _idle(msg: dict[str, Any]) -> bool:
    return msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"


def _bridge_figures() -> dict[str, list[float]]:
    from jupyter_client.manager import start_new_kernel

    out: dict[str, list[float]] = {"interrupt": [], "execute": [], "reactive": []}
    km, kc = start_new_kernel(kernel_name="amphi", startup_timeout=60)
    try:
        _until(kc, _request(kc, "a = 0", "A"), _idle)
        _until(kc, _request(kc, "a + 1", "B"), _idle)
        for i in range(RUNS):
            msg_id = _request(kc, "print('go', flush=True)\nwhile True: pass", "loop")
            _until(kc, msg_id, lambda m: m["msg_type"] == "stream")
            t0 = time.perf_counter()
            km.interrupt_kernel()
            while kc.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
                pass
            out["interrupt"].append(time.perf_counter() - t0)
            _until(kc, msg_id, _idle)
            t0 = time.perf_counter()
            _until(kc, _request(kc, "1", "one"), _idle)
            out["execute"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _until(kc, _request(kc, f"a = {i + 1}", "A"), lambda m: m["msg_type"] == "update_display_data")
            out["reactive"].append(time.perf_counter() - t0)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return out


async def _floor_figures() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"interrupt": [], "execute": [], "reactive": []}
    client = KernelClient()
    events: dict[str, asyncio.Event] = {"done": asyncio.Event(), "console": asyncio.Event(), "B": asyncio.Event()}

    def on_note(note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.CompletedRun):
            events["done"].set()
        elif isinstance(note, protocol.CellConsole):
            events["console"].set()
        elif isinstance(note, protocol.CellOutput) and note.cell_id == "B":
            events["B"].set()

    async def run(cells: dict[str, str], wait: str = "done") -> float:
        for event in events.values():
            event.clear()
        t0 = time.perf_counter()
        await client.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
        await asyncio.wait_for(events[wait].wait(), 60)
        return time.perf_counter() - t0

    client.on_notification(on_note)
    await client.start()
    try:
        await client.wait_ready(60)
        await run({"A": "a = 0", "B": "a + 1"})
        for i in range(RUNS):
            for event in events.values():
                event.clear()
            await client.send(protocol.ExecuteCells(cell_ids=["loop"], codes=["print('go', flush=True)\nwhile True: pass"]))
            await asyncio.wait_for(events["console"].wait(), 60)
            t0 = time.perf_counter()
            client.interrupt()
            await asyncio.wait_for(events["done"].wait(), 60)
            out["interrupt"].append(time.perf_counter() - t0)
            out["execute"].append(await run({"one": "1"}))
            out["reactive"].append(await run({"A": f"a = {i + 1}"}, wait="B"))
    finally:
        await client.shutdown()
    return out


def main() -> None:
    from subprocess_host.jupyter.kernelspec import install

    root = tempfile.mkdtemp(prefix="amphi-bench-jupyter-")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_DATA_DIR", "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")}
    os.environ.update({"JUPYTER_DATA_DIR": f"{root}/data", "JUPYTER_PATH": f"{root}/data",
                       "JUPYTER_RUNTIME_DIR": f"{root}/runtime"})  # fmt: skip
    try:
        install(name="amphi", user=True)
        bridge = _bridge_figures()
        floor = asyncio.run(_floor_figures())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)
    bare = "bare kernel subprocess (KernelClient, same run)"
    print_figures("Jupyter bridge (jupyter_client -> bridge -> kernel subprocess)", [
        Figure("interrupt_request -> execute_reply (while True: pass)", bridge["interrupt"], floor["interrupt"], bare,
               "< 1 s"),
        Figure("execute_request '1' -> idle", bridge["execute"], floor["execute"], bare),
        Figure("re-run upstream cell -> dependent's update_display_data", bridge["reactive"], floor["reactive"], bare),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
