"""The islands script in Chromium against a scripted worker (the Worker transport contract):
reading-order execute-cells, outputs under each block, pre-rendered outputs kept until live
ones arrive, a UI element's update sent from one block, boot progress, Run/Edit.  The real
kernel (Pyodide) is exercised by ``test_sites.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Page, expect

from lifecycle import protocol
from lifecycle.ui import UI_MIME
from pyodide_host.islands import ISLANDS_SCRIPT, Island, island_html, script_tag
from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR

pytestmark = pytest.mark.timeout(120)

WORKER = """
const replies = %(replies)s;
const channel = new BroadcastChannel("fake-islands-worker");
let received = 0;
const send = (bytes) => { const f = new Uint8Array(bytes); self.postMessage({ kind: "frame", data: f }, [f.buffer]); };
self.onmessage = (event) => {
  const message = event.data;
  if (message.kind === "init") {
    channel.postMessage({ init: message.options });
    self.postMessage({ kind: "progress", stage: "Loading Python", progress: 0.5 });
    channel.onmessage = (e) => { if (e.data && e.data.go) go(); };
    return;
  }
  if (message.kind === "frame") {
    // The page asks for virtual files (push-virtual-files) before each kernel's first run:
    // a host command with no reply, not counted.
    if (new TextDecoder().decode(message.data).includes("push-virtual-files")) return;
    channel.postMessage({ frame: Array.from(message.data) });
    for (const bytes of replies[received] || []) send(bytes);
    received += 1;
  }
};
let started = false;
function go() {
  if (started) return;
  started = true;
  self.postMessage({ kind: "ready" });
  send(%(ready)s);
}
"""

SLIDER = {"id": "el-1", "kind": "slider", "props": {"start": 1, "stop": 10, "step": 1, "label": "n"}, "value": 3}


def frames(*notes: Any) -> list[list[int]]:
    return [list(protocol.encode(n)) for n in notes]


def run_reply() -> list[list[int]]:
    status = protocol.CellStatus
    return frames(
        status(cell_id="island-1", status="queued"),
        status(cell_id="square", status="queued"),
        status(cell_id="island-3", status="queued"),
        status(cell_id="island-1", status="running", timestamp=1.0),
        protocol.CellOutput(cell_id="island-1", data={UI_MIME: SLIDER, "text/plain": "slider(value=3)"}, kind="result"),
        status(cell_id="island-1", status="idle", timestamp=1.1),
        status(cell_id="square", status="running", timestamp=1.1),
        protocol.CellConsole(cell_id="square", stream="stdout", text="hello\n"),
        protocol.CellOutput(cell_id="square", data={"text/plain": "9"}, kind="result"),
        status(cell_id="square", status="idle", timestamp=1.2),
        status(cell_id="island-3", status="running", timestamp=1.2),
        status(cell_id="island-3", status="idle", timestamp=1.3),
        protocol.CompletedRun(cell_ids=["island-1", "square", "island-3"]),
    )


def slider_reply() -> list[list[int]]:
    status = protocol.CellStatus
    return frames(
        status(cell_id="square", status="running", timestamp=2.0),
        protocol.CellOutput(cell_id="square", data={"text/plain": "49"}, kind="result"),
        status(cell_id="square", status="idle", timestamp=2.1),
        protocol.CompletedRun(cell_ids=["square"]),
    )


def build_page(root: Path, worker_js: str) -> None:
    for name in (ISLANDS_SCRIPT, ISLANDS_SCRIPT.replace(".js", ".css")):
        shutil.copy2(BUNDLE_DIR / name, root / name)
    shutil.copytree(BUNDLE_DIR / "chunks", root / "chunks")
    (root / "fake-worker.js").write_text(worker_js)
    blocks = [
        island_html(Island("from lifecycle import ui\ns = ui.slider(1, 10, value=3, label='n')\ns"), "island-1"),
        "<p>Between the blocks.</p>",
        island_html(
            Island(
                "print('hello')\ns.value ** 2",
                outputs=[{"output_type": "execute_result", "data": {"text/plain": "PRE-RENDERED"}, "metadata": {}}],
            ),
            "square",
        ),
        island_html(Island("x = 1  # prints nothing", outputs=[{"output_type": "stream", "name": "stdout", "text": "STALE"}]), "island-3"),
    ]
    tag = script_tag(ISLANDS_SCRIPT).replace(" src=", ' data-worker="fake-worker.js" src=')
    (root / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>Islands</title></head><body>"
        f"<h1>Islands</h1>{''.join(blocks)}{tag}</body></html>"
    )


def sent(page: Page) -> list[dict[str, Any]]:
    return [msgspec.msgpack.decode(bytes(f)) for f in page.evaluate("window.__frames")]


def test_islands_against_a_scripted_worker(page: Page, tmp_path: Path, static_server) -> None:
    if not (BUNDLE_DIR / ISLANDS_SCRIPT).is_file():
        pytest.fail(f"the web bundle has no {ISLANDS_SCRIPT} ({BUNDLE_DIR}): run `npm run build` in web/")
    worker_js = WORKER % {
        "replies": json.dumps([run_reply(), slider_reply()]),
        "ready": json.dumps(list(protocol.encode(protocol.KernelReady(python="3.14.2")))),
    }
    build_page(tmp_path, worker_js)
    server = static_server(tmp_path)
    page.add_init_script(
        """window.__frames = []; window.__init = null;
        const ch = new BroadcastChannel("fake-islands-worker");
        ch.onmessage = (e) => { if (e.data.frame) window.__frames.push(e.data.frame); if (e.data.init) window.__init = e.data.init; };
        window.__go = () => ch.postMessage({ go: true });"""
    )
    page.goto(server.url)
    islands = page.locator(".amphi-island")
    expect(islands).to_have_count(3)
    # Boot progress in every block; pre-rendered outputs stay meanwhile.
    expect(islands.nth(0).locator(".amphi-island-status")).to_have_text("Loading Python (50%)")
    expect(islands.nth(1).locator(".amphi-output")).to_have_text("PRE-RENDERED")
    expect(islands.nth(1).locator(".amphi-island-run")).to_be_disabled()
    assert page.evaluate("window.__init")["mode"] == "run"
    page.evaluate("window.__go()")

    # One execute-cells with every block, in reading order.
    expect(islands.nth(1).locator(".amphi-output .output")).to_have_text("9")
    first = sent(page)[0]
    assert first["type"] == "execute-cells"
    assert first["cell_ids"] == first["order"] == ["island-1", "square", "island-3"]
    assert first["codes"][1] == "print('hello')\ns.value ** 2"
    # Outputs under each block: console text too; the pre-rendered ones replaced.
    expect(islands.nth(1).locator(".console-output")).to_have_text("hello")
    expect(islands.nth(1).locator(".amphi-prerendered")).to_have_count(0)
    expect(islands.nth(2).locator(".amphi-output")).to_have_text("")  # ran, printed nothing
    expect(islands.nth(1)).to_have_attribute("data-status", "idle")

    # The slider of block 1 sends update-ui-element; block 2 shows the re-run's output.
    slider = islands.nth(0).locator("amphi-ui input[type=range]")
    expect(slider).to_have_value("3")
    slider.fill("7")
    expect(islands.nth(1).locator(".amphi-output .output")).to_have_text("49")
    update = sent(page)[1]
    assert update == {"type": "update-ui-element", "values": {"el-1": 7}}

    # Edit + Run sends this block's new code with the page order.
    islands.nth(2).get_by_role("button", name="Edit").click()
    editor = islands.nth(2).locator("textarea")
    editor.fill("y = 2")
    islands.nth(2).get_by_role("button", name="Run").click()
    page.wait_for_function("window.__frames.length >= 3")
    rerun = sent(page)[2]
    assert rerun["cell_ids"] == ["island-3"]
    assert rerun["codes"] == ["y = 2"]
    assert rerun["order"] == ["island-1", "square", "island-3"]
    # Done: the block shows the code it now runs.
    islands.nth(2).get_by_role("button", name="Done").click()
    expect(islands.nth(2).locator("textarea")).to_have_count(0)
    expect(islands.nth(2).locator(".amphi-code pre")).to_have_text("y = 2")
    expect(islands.nth(2)).to_have_class("amphi-island amphi-edited")
    assert page.js_errors == []
    assert page.foreign == []
