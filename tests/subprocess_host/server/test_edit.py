"""Edit mode over real WebSockets: one kernel subprocess per notebook, shared by its tabs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import (
    Cell,
    Notebook,
    dumps_percent,
    read_notebook,
    validate_ipynb,
    write_notebook,
)

from .harness import (
    WsTab,
    console_text,
    cookie_header,
    load_page,
    make_config,
    of_type,
    pid_alive,
    results,
    serving,
)

pytestmark = pytest.mark.timeout(120)


def write_percent(path: Path, *sources: str) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


async def open_tab(server: object, http: httpx.AsyncClient) -> WsTab:
    tab = await WsTab.open(server.ws_url(token=""), cookie_header(http))  # type: ignore[attr-defined]
    await tab.wait_for(of_type("notebook"))
    return tab


async def test_round_trip_two_tabs_and_replay_for_a_late_tab(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "x = 20", "print('sum', x + 1)\nx * 2")
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        a, b = await open_tab(server, http), await open_tab(server, http)
        snapshot = a.messages[0]
        assert snapshot["mode"] == "edit" and snapshot["path"] == str(path) and snapshot["saved"] is True
        ids = [c["id"] for c in snapshot["cells"]]
        assert [c["source"] for c in snapshot["cells"]] == ["x = 20", "print('sum', x + 1)\nx * 2"]
        ready = await a.wait_for(of_type("kernel-ready"))
        run = await a.run(dict(zip(ids, ["x = 20", "print('sum', x + 1)\nx * 2"])))
        assert console_text(run, ids[1]) == "sum 21\n"
        assert results(run, ids[1]) == ["40"]
        # Tab B sees tab A's run (same session, same frames).
        await b.wait_for(of_type("completed-run"))
        assert console_text(b.messages, ids[1]) == "sum 21\n" and results(b.messages, ids[1]) == ["40"]

        # A tab that disconnects mid-run does not disturb the other one.
        await a.send({"type": "execute-cells", "cell_ids": ["slow"],
                      "codes": ["import time\ntime.sleep(0.5)\nprint('slow done')"]})
        await b.wait_for(of_type("cell-status", cell_id="slow", status="running"))
        await a.close()
        await b.wait_for(lambda m: m.get("type") == "cell-console" and m.get("text") == "slow done\n")

        # A tab opening later gets the snapshot (with the new cell) and the replay.
        late = await open_tab(server, http)
        assert late.messages[0]["cells"][-1]["id"] == "slow"
        assert late.messages[0]["saved"] is False
        await late.wait_for(lambda m: m.get("type") == "cell-console" and m.get("text") == "slow done\n", timeout=5)
        assert late.messages[1]["type"] == "kernel-ready" and late.messages[1]["pid"] == ready["pid"]
        assert console_text(late.messages, ids[1]) == "sum 21\n" and results(late.messages, ids[1]) == ["40"]

        # A malformed frame is answered to that tab only; its connection stays usable.
        mark_b = len(b.messages)
        await late.send(b"\xc1\xc1")
        error = await late.wait_for(of_type("kernel-error"), since=1)
        assert "malformed" in error["message"]
        await late.ws.send("a text frame")
        await late.wait_for(lambda m: m.get("type") == "kernel-error" and "text frames" in m["message"])
        again = await late.run({"after": "print('still here')"})
        assert console_text(again, "after") == "still here\n"
        assert not any(m.get("type") == "kernel-error" for m in b.messages[mark_b:])
        await b.close()
        await late.close()


async def test_save_writes_atomically_and_a_failed_save_keeps_the_file(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "a = 1")
    original = path.read_bytes()
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        a, b = await open_tab(server, http), await open_tab(server, http)
        cells = [
            {"id": "k1", "kind": "markdown", "source": "# Title", "name": None, "options": {}},
            {"id": "k2", "kind": "code", "source": "b = 2\nprint(b)", "name": "load", "options": {"hide": True}},
        ]
        await a.send({"type": "save-notebook", "cells": cells, "request_id": "s1"})
        saved = await a.wait_for(of_type("notebook-saved"))
        assert saved == {"type": "notebook-saved", "ok": True, "error": "", "request_id": "s1", "path": str(path), "conflict": False}
        expected = Notebook(cells=[Cell("k1", "markdown", "# Title"), Cell("k2", "code", "b = 2\nprint(b)", name="load", options={"hide": True})])
        assert path.read_text() == dumps_percent(expected)
        again = read_notebook(path)
        assert [(c.kind, c.source, c.name, c.options) for c in again.cells] == [
            ("markdown", "# Title", None, {}), ("code", "b = 2\nprint(b)", "load", {"hide": True})]
        update = await b.wait_for(lambda m: m.get("type") == "notebook" and m["saved"] is True and len(m["cells"]) == 2, since=1)
        assert update["cells"][1]["name"] == "load"
        good = path.read_bytes()
        assert good != original

        # An option value the format cannot hold: nothing is written, the last good copy stays.
        bad = [{"id": "k1", "source": "x = 1", "options": {"tags": ["a", "b"]}}]
        await a.send({"type": "save-notebook", "cells": bad, "request_id": "s2"})
        failed = await a.wait_for(of_type("notebook-saved", request_id="s2"))
        assert failed["ok"] is False and "tags" in failed["error"]
        assert path.read_bytes() == good
        await a.send({"type": "save-notebook", "cells": [{"id": "x"}, {"id": "x"}], "request_id": "s3"})
        repeated = await a.wait_for(of_type("notebook-saved", request_id="s3"))
        assert repeated["ok"] is False and "repeated" in repeated["error"]
        assert path.read_bytes() == good
        assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.py"]  # no temporary file left
        await a.close()
        await b.close()


async def test_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "fresh.py"
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        assert path.exists()
        assert [c.kind for c in read_notebook(path).cells] == ["code"]
        await load_page(server, http)
        tab = await open_tab(server, http)
        assert len(tab.messages[0]["cells"]) == 1
        await tab.close()
    ipynb = tmp_path / "fresh.ipynb"
    async with serving(make_config("edit", ipynb)):
        assert validate_ipynb(ipynb.read_text()) in (True, False)
        assert json.loads(ipynb.read_text())["nbformat"] == 4


async def test_a_notebook_with_a_syntax_error_opens_and_reports_it_when_run(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("# %%\nx = (\n\n# %%\nprint('fine')\n")
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        page = await load_page(server, http)
        assert "x = (" in page.text and "not built" in page.text
        tab = await open_tab(server, http)
        cells = tab.messages[0]["cells"]
        assert [c["source"] for c in cells] == ["x = (", "print('fine')"]
        run = await tab.run({c["id"]: c["source"] for c in cells})
        error = next(m for m in run if m.get("type") == "cell-error")
        assert error["cell_id"] == cells[0]["id"] and error["ename"] == "SyntaxError"
        assert console_text(run, cells[1]["id"]) == "fine\n"
        await tab.close()


async def test_ipynb_opens_and_saves_as_ipynb_with_outputs(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    write_notebook(path, Notebook(cells=[Cell("m1", "markdown", "# Hello"), Cell("c1", "code", "print('hi')\n6 * 7")]))
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await open_tab(server, http)
        cells = tab.messages[0]["cells"]
        assert [(c["id"], c["kind"]) for c in cells] == [("m1", "markdown"), ("c1", "code")]
        await tab.run({"c1": "print('hi')\n6 * 7"})
        await tab.send({"type": "save-notebook", "cells": cells})
        assert (await tab.wait_for(of_type("notebook-saved")))["ok"] is True
        doc = json.loads(path.read_text())
        assert doc["nbformat"] == 4 and [c["cell_type"] for c in doc["cells"]] == ["markdown", "code"]
        outputs = doc["cells"][1]["outputs"]
        assert {"output_type": "stream", "name": "stdout", "text": ["hi\n"]} in outputs
        assert any(o["output_type"] == "execute_result" and o["data"]["text/plain"] == ["42"] for o in outputs)
        assert validate_ipynb(path.read_text()) in (True, False)
        await tab.close()


async def test_restart_kernel_and_interrupt(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "x = 5")
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await open_tab(server, http)
        first = await tab.wait_for(of_type("kernel-ready"))
        await tab.run({"c0": "x = 5"})
        await tab.send({"type": "execute-cells", "cell_ids": ["spin"], "codes": ["while True:\n    pass"]})
        await tab.wait_for(of_type("cell-status", cell_id="spin", status="running"))
        # "running" is announced a moment before the kernel can be interrupted: press again
        # until it takes, as a user would.
        for _ in range(20):
            await tab.send({"type": "interrupt"})
            try:
                interrupted = await tab.wait_for(of_type("cell-error", cell_id="spin"), timeout=0.5)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the interrupt never took")
        assert interrupted["ename"] == "KeyboardInterrupt"
        mark = len(tab.messages)
        await tab.send({"type": "restart-kernel", "request_id": "r1"})
        restarted = await tab.wait_for(of_type("kernel-restarted"), since=mark)
        assert restarted == {"type": "kernel-restarted", "ok": True, "error": "", "request_id": "r1"}
        second = await tab.wait_for(of_type("kernel-ready"), since=mark)
        assert second["pid"] != first["pid"] and not pid_alive(first["pid"])
        run = await tab.run({"probe": "print(x)"})
        assert next(m for m in run if m.get("type") == "cell-error")["ename"] == "NameError"
        # A new tab gets only the new kernel's state.
        late = await open_tab(server, http)
        await asyncio.sleep(0.2)
        assert [m["pid"] for m in late.messages if m["type"] == "kernel-ready"] == [second["pid"]]
        assert not any(m.get("cell_id") == "spin" for m in late.messages)
        await tab.close()
        await late.close()


async def test_a_tab_drowning_in_output_is_closed_and_resynchronises(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "print('x' * 1_000_000)")
    config = make_config("edit", path, max_tab_backlog_bytes=200_000)
    async with serving(config) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await open_tab(server, http)
        cell = tab.messages[0]["cells"][0]
        await tab.send({"type": "execute-cells", "cell_ids": [cell["id"]], "codes": [cell["source"]]})
        await asyncio.wait_for(tab.closed.wait(), 30)
        assert tab.ws.close_code == 1013
        # Reconnecting brings the whole state back, however large the replay.
        again = await open_tab(server, http)
        output = await again.wait_for(of_type("cell-console", cell_id=cell["id"]), timeout=30)
        assert len(output["text"]) >= 1_000_000
        assert again.ws.close_code is None
        await again.close()
        await tab.close()


async def test_a_kernel_that_cannot_start_is_reported(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "x = 1")
    config = make_config("edit", path, python=str(tmp_path / "no-such-python"))
    async with serving(config) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await open_tab(server, http)
        died = await tab.wait_for(of_type("kernel-died"))
        assert "did not start" in died["reason"] and "no-such-python" in died["reason"]
        await tab.send({"type": "execute-cells", "cell_ids": ["a"], "codes": ["1"]})
        assert "not running" in (await tab.wait_for(of_type("kernel-error")))["message"]
        await tab.send({"type": "restart-kernel", "request_id": "again"})
        restarted = await tab.wait_for(of_type("kernel-restarted"))
        assert restarted["ok"] is False and "no-such-python" in restarted["error"]
        await tab.close()
