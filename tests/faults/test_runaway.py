"""Runaway cells: one prints forever, one allocates until a memory limit.

The kernel is interrupted (or reports ``MemoryError``) and keeps serving; meanwhile the server
stays responsive: page loads and a cell round trip on another notebook's session answer.  The
p50/p99 of those round trips are printed (timings are reported, not asserted: the only bound is
the test's timeout).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook
from tests.subprocess_host.server.harness import WsTab, console_text, of_type

from .server import AmphiServer

pytestmark = pytest.mark.timeout(240)

PRINT_FOREVER = "i = 0\nwhile True:\n    i += 1\n    print('line', i, 'x' * 200)\n"
ALLOCATE = (
    "import resource\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
    "with open('/proc/self/statm') as f:\n"
    "    size = int(f.read().split()[0]) * resource.getpagesize()\n"
    "resource.setrlimit(resource.RLIMIT_AS, (size + 300 * 2**20, hard))\n"
    "hog = []\n"
    "import time\n"
    "while True:\n"
    "    hog.append(bytearray(2**20))\n"
    "    time.sleep(0.005)  # slow enough for the probes to overlap it\n"
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def probe(server: AmphiServer, other: WsTab, samples: int = 20) -> tuple[list[float], list[float]]:
    """Page loads and a cell round trip on the other session, while the runaway cell runs."""
    pages: list[float] = []
    cells: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for i in range(samples):
            start = time.perf_counter()
            response = await http.get(server.url + "&file=other.py")
            assert response.status_code == 200
            pages.append(time.perf_counter() - start)
            start = time.perf_counter()
            run = await run_cells(other, {f"p{i}": f"print('probe', {i})"})
            assert console_text(run, f"p{i}") == f"probe {i}\n"
            cells.append(time.perf_counter() - start)
    return pages, cells


async def run_cells(tab: WsTab, cells: dict[str, str]) -> list[dict]:
    """Send ``execute-cells``; every message up to the ``completed-run`` naming one of them."""
    mark = len(tab.messages)
    await tab.send({"type": "execute-cells", "cell_ids": list(cells), "codes": list(cells.values())})
    done = await tab.wait_for(
        lambda m: m.get("type") == "completed-run" and bool(set(cells) & set(m.get("cell_ids", []))), mark, 60)
    return tab.messages[mark : tab.messages.index(done) + 1]


def report(label: str, pages: list[float], cells: list[float]) -> None:
    print(
        f"\n{label}: page load p50 {percentile(pages, 50) * 1000:.1f} ms p99 {percentile(pages, 99) * 1000:.1f} ms; "
        f"WebSocket cell round trip (other session) p50 {percentile(cells, 50) * 1000:.1f} ms "
        f"p99 {percentile(cells, 99) * 1000:.1f} ms (n={len(pages)})"
    )


def notebooks(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source=source)]))
    write_notebook(tmp_path / "other.py", Notebook(cells=[Cell(id="o0", kind="code", source="x = 1")]))
    return path


async def start(server: AmphiServer) -> tuple[WsTab, WsTab, str]:
    tab = await server.tab()
    other = await server.tab(file="other.py")
    await tab.wait_for(of_type("kernel-ready"), timeout=60)
    await other.wait_for(of_type("kernel-ready"), timeout=60)
    cell = (await tab.wait_for(of_type("notebook")))["cells"][0]
    await tab.send({"type": "execute-cells", "cell_ids": [cell["id"]], "codes": [cell["source"]]})
    return tab, other, cell["id"]


async def test_a_cell_printing_forever_is_interrupted_and_the_server_stays_responsive(tmp_path: Path) -> None:
    path = notebooks(tmp_path, PRINT_FOREVER)
    with AmphiServer("edit", path) as server:
        tab, other, cell = await start(server)
        for _ in range(5):  # big console frames are kept as their size only (max_keep_bytes)
            await tab.wait_for(of_type("cell-console"), since=len(tab.messages), timeout=60)
        pages, cells = await probe(server, other)
        report("printing forever", pages, cells)
        # Interrupt: the cell ends with KeyboardInterrupt and the kernel runs the next cell.
        mark = len(tab.messages)
        await tab.send({"type": "interrupt"})
        done = await tab.wait_for(of_type("completed-run"), since=mark, timeout=60)
        assert cell in done.get("cell_ids", [])
        errors = [m for m in tab.messages[mark:] if m.get("type") == "cell-error" and m.get("cell_id") == cell]
        assert errors and "KeyboardInterrupt" in str(errors[-1]), [m.get("type") for m in tab.messages[mark:]][-20:]
        # (a cell of its own: one using the interrupted cell's names would not run, "errored ancestor")
        after = await run_cells(tab, {"c1": "import sys\nprint('still serving', len(sys.modules) > 0)"})
        assert console_text(after, "c1") == "still serving True\n"
        await tab.close()
        await other.close()


async def test_a_cell_allocating_until_a_limit_fails_alone_and_the_server_stays_responsive(tmp_path: Path) -> None:
    path = notebooks(tmp_path, ALLOCATE)
    with AmphiServer("edit", path) as server:
        tab, other, cell = await start(server)
        pages, cells = await probe(server, other, samples=10)
        done = await tab.wait_for(of_type("completed-run"), timeout=120)
        assert cell in done.get("cell_ids", [])
        errors = [m for m in tab.messages if m.get("type") == "cell-error" and m.get("cell_id") == cell]
        assert errors and "MemoryError" in str(errors[-1]), [m.get("type") for m in tab.messages][-20:]
        report("allocating until a limit", pages, cells)
        after = await run_cells(tab, {"c1": "print('still serving')"})
        assert console_text(after, "c1") == "still serving\n"
        await asyncio.sleep(0)
        await tab.close()
        await other.close()
