"""kill -9 in the middle of work: of a kernel subprocess, and of the server itself.

Afterwards no process of ours is left, no shared-memory segment of ours is left in
``/dev/shm``, the notebook file is whole, and (for the server) a new server on the same
notebook serves again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from lifecycle.notebook import Cell, Notebook, read_notebook, write_notebook
from tests.subprocess_host.server.harness import console_text, of_type, pid_alive, shm_segments

from .server import TOKEN, AmphiServer, wait_gone

pytestmark = pytest.mark.timeout(180)

BUSY = (
    "from lifecycle.virtual_files import publish\n"
    "url = publish(b'z' * 100_000, 'data.bin')\n"
    "print(url, flush=True)\n"
    "import time\n"
    "n = 0\n"
    "while True:\n"
    "    n += 1\n"
    "    if n % 200_000 == 0:\n"
    "        print('working', n, flush=True)\n"
)


def write_busy(path: Path) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source=BUSY)]))
    return path


async def wait_until(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def start_busy(server: AmphiServer) -> tuple[object, int]:
    """Open a tab, run the busy cell until it prints; returns the tab and the kernel pid."""
    tab = await server.tab()
    ready = await tab.wait_for(of_type("kernel-ready"), timeout=60)
    cell = (await tab.wait_for(of_type("notebook")))["cells"][0]
    await tab.send({"type": "execute-cells", "cell_ids": [cell["id"]], "codes": [cell["source"]]})
    await tab.wait_for(lambda m: m.get("type") == "cell-console" and "working" in m.get("text", ""), timeout=60)
    assert shm_segments(ready["pid"]), "the kernel's virtual file should be in shared memory"
    return tab, ready["pid"]


async def test_kill_9_of_a_kernel_leaves_no_segment_and_a_restart_serves(tmp_path: Path) -> None:
    path = write_busy(tmp_path / "nb.py")
    original = path.read_bytes()
    with AmphiServer("edit", path) as server:
        tab, kernel_pid = await start_busy(server)
        os.kill(kernel_pid, signal.SIGKILL)
        died = await tab.wait_for(of_type("kernel-died"), timeout=30)
        assert died["returncode"] == -signal.SIGKILL
        assert await wait_until(lambda: not pid_alive(kernel_pid))
        # The server removes what the dead kernel could not: its shared-memory segments.
        assert await wait_until(lambda: not shm_segments(kernel_pid)), shm_segments(kernel_pid)
        mark = len(tab.messages)
        await tab.send({"type": "restart-kernel", "request_id": "r"})
        assert (await tab.wait_for(of_type("kernel-restarted"), since=mark, timeout=60))["ok"] is True
        again = await tab.run({"c9": "print('back', 6 * 7)"})
        assert console_text(again, "c9") == "back 42\n"
        new_pid = (await tab.wait_for(of_type("kernel-ready"), since=mark))["pid"]
        await tab.close()
    assert not pid_alive(new_pid) and not shm_segments(kernel_pid, new_pid, server.pid)
    assert path.read_bytes() == original


async def test_kill_9_of_the_server_ends_its_kernels_and_a_new_server_serves(tmp_path: Path) -> None:
    path = write_busy(tmp_path / "nb.py")
    server = AmphiServer("edit", path)
    try:
        tab, kernel_pid = await start_busy(server)
        children = server.descendants()
        assert kernel_pid in [c.pid for c in children]
        # Saves in flight when the server dies.
        versions = [[{"id": "c0", "kind": "code", "source": BUSY + f"# version {i}\n" + "#" * 200_000}] for i in range(2)]
        for i in range(6):
            await tab.send({"type": "save-notebook", "cells": versions[i % 2], "request_id": f"s{i}"})
        await asyncio.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
        await asyncio.wait_for(tab.closed.wait(), 30)
        await tab.close()
        # Its kernel notices its parent's death, stops the running cell and cleans up.
        await asyncio.to_thread(wait_gone, children, 30)
        assert await wait_until(lambda: not shm_segments(kernel_pid, server.pid)), shm_segments(kernel_pid, server.pid)
    finally:
        server.kill()
    # The notebook file is whole: the original or one of the versions, never a partial file.
    sources = [c.source.strip() for c in read_notebook(path).cells]
    assert sources in ([BUSY.strip()], *[[v[0]["source"].strip()] for v in versions]), [s[-80:] for s in sources]

    # A new server on the same notebook (and the same port) serves again.
    with AmphiServer("edit", path, port=server.port) as again:
        async with httpx.AsyncClient() as http:
            assert (await http.get(again.url)).status_code == 200
        tab = await again.tab()
        await tab.wait_for(of_type("kernel-ready"), timeout=60)
        run = await tab.run({"c8": "print('served', 6 * 7)"})
        assert console_text(run, "c8") == "served 42\n"
        await tab.close()



APP_BUSY = BUSY.replace("'working', n", "'app working', n")


async def test_kill_9_of_an_app_process_leaves_nothing_and_the_app_serves_again(tmp_path: Path) -> None:
    """``amphi run a.py b.py``: one OS process per notebook app; kill -9 the app process of
    ``a`` while its reader's cell works."""
    a = write_busy(tmp_path / "a.py")
    write_notebook(a, Notebook(cells=[Cell(id="c0", kind="code", source=APP_BUSY)]))
    b = tmp_path / "b.py"
    write_notebook(b, Notebook(cells=[Cell(id="c0", kind="code", source="print('b ran', 6 * 7)")]))
    original = a.read_bytes()
    with AmphiServer("run", a, b) as server:
        async with httpx.AsyncClient(timeout=60) as http:
            assert (await http.get(f"{server.base}/a/?token={TOKEN}")).status_code == 200
            tab = await server.tab(http, prefix="/a")
            await tab.wait_for(lambda m: m.get("type") == "cell-console" and "app working" in m.get("text", ""), timeout=60)
            # The app process (forked by a zygote) names its segments amphi_<its pid in hex>_...
            notice = await tab.wait_for(of_type("virtual-file"))
            app_pid = int(notice["shm_name"].split("_")[1], 16)
            app_pids = [app_pid]
            assert app_pid in [p.pid for p in server.descendants()], "the app process is not the server's"
            assert shm_segments(app_pid), "the app's virtual file should be in shared memory"
            victims = [psutil.Process(app_pid), *psutil.Process(app_pid).children(recursive=True)]
            os.kill(app_pid, signal.SIGKILL)
            # The reader is told (kernel-died) or its connection ends; nothing of the app is left.
            await tab.wait_for(lambda m: m.get("type") == "kernel-died", timeout=60) if not tab.closed.is_set() else None
            await asyncio.to_thread(wait_gone, victims, 30)
            assert await wait_until(lambda: not shm_segments(*app_pids)), shm_segments(*app_pids)
            await tab.close()

            # The server still serves: the other app, and a new process for this one.
            assert (await http.get(f"{server.base}/b/?token={TOKEN}")).status_code == 200
            other = await server.tab(http, prefix="/b")
            await other.wait_for(lambda m: m.get("type") == "cell-console" and m.get("text") == "b ran 42\n", timeout=60)
            assert (await http.get(f"{server.base}/a/?token={TOKEN}")).status_code == 200
            again = await server.tab(http, prefix="/a")
            await again.wait_for(lambda m: m.get("type") == "cell-console" and "app working" in m.get("text", ""), timeout=60)
            renewed = await again.wait_for(of_type("virtual-file"))
            assert int(renewed["shm_name"].split("_")[1], 16) != app_pid  # a new app process
            for t in (other, again):
                await t.close()
    assert a.read_bytes() == original
