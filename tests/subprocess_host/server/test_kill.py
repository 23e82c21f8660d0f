"""A kernel killed with SIGKILL in the middle of a 10 MB output: its tabs get ``kernel-died``
(the delay is printed, not asserted: timings belong to benchmarks), the server keeps serving
the other notebooks, and a restart brings the session back."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import (
    WsTab,
    console_text,
    cookie_header,
    load_page,
    make_config,
    of_type,
    pid_alive,
    serving,
)

pytestmark = pytest.mark.timeout(120)

BIG_OUTPUTS = {
    "display": (
        "from lifecycle.display import display\n"
        "blob = b'x' * 9_990_000\n"
        "for _ in range(20):\n"
        "    display({'application/octet-stream': blob}, raw=True)\n"
    ),
    "print": "while True:\n    print('x' * 10_000_000)\n",
}


@pytest.mark.parametrize("kind", sorted(BIG_OUTPUTS))
async def test_kill_9_during_a_big_output(tmp_path: Path, kind: str) -> None:
    big = tmp_path / "big.py"
    write_notebook(big, Notebook(cells=[Cell(id="c0", kind="code", source=BIG_OUTPUTS[kind])]))
    other = tmp_path / "other.py"
    write_notebook(other, Notebook(cells=[Cell(id="c0", kind="code", source="print('other', 6 * 7)")]))
    async with serving(make_config("edit", big)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        await load_page(server, http, file="other.py")
        tab = await WsTab.open(server.ws_url(token=""), cookie_header(http), max_keep_bytes=1 << 16)
        watcher = await WsTab.open(server.ws_url(token=""), cookie_header(http), max_keep_bytes=1 << 16)
        other_tab = await WsTab.open(server.ws_url(token="", file="other.py"), cookie_header(http))
        ready = await tab.wait_for(of_type("kernel-ready"))
        other_ready = await other_tab.wait_for(of_type("kernel-ready"))
        assert other_ready["pid"] != ready["pid"]
        cell = (await tab.wait_for(of_type("notebook")))["cells"][0]
        await tab.send({"type": "execute-cells", "cell_ids": [cell["id"]], "codes": [cell["source"]]})
        first = await tab.wait_for(lambda m: m.get("size", 0) > 5_000_000, timeout=60)
        assert first["type"] in ("cell-output", "cell-console")
        killed_at = time.monotonic()
        os.kill(ready["pid"], signal.SIGKILL)
        died = await tab.wait_for(of_type("kernel-died"), timeout=30)  # bounds a hang, not a latency
        latency = tab.times[tab.messages.index(died)] - killed_at
        print(f"\nkernel-died reached the tab {latency * 1000:.0f} ms after SIGKILL ({kind})")
        assert died["returncode"] == -signal.SIGKILL and "signal 9" in died["reason"]
        await watcher.wait_for(of_type("kernel-died"), timeout=5)
        assert not pid_alive(ready["pid"])

        # The other notebook's session still runs cells.
        other_cell = (await other_tab.wait_for(of_type("notebook")))["cells"][0]
        run = await other_tab.run({other_cell["id"]: other_cell["source"]})
        assert console_text(run, other_cell["id"]) == "other 42\n"
        # The dead session says so, and a restart brings it back.
        mark = len(tab.messages)
        await tab.send({"type": "execute-cells", "cell_ids": ["again"], "codes": ["1"]})
        assert "not running" in (await tab.wait_for(of_type("kernel-error"), since=mark))["message"]
        late = await WsTab.open(server.ws_url(token=""), cookie_header(http), max_keep_bytes=1 << 16)
        await late.wait_for(of_type("kernel-died"), timeout=5)  # replayed
        await tab.send({"type": "restart-kernel"})
        assert (await tab.wait_for(of_type("kernel-restarted"), since=mark, timeout=60))["ok"] is True
        again = await tab.run({"again": "print('back')"})
        assert console_text(again, "again") == "back\n"
        for t in (tab, watcher, other_tab, late):
            await t.close()
        await asyncio.sleep(0)
