"""The same bundle over the Worker transport (the Pyodide host's postMessage contract),
driven by a scripted worker: frames are msgpack ``Uint8Array``s both ways, boot progress comes
in control envelopes, and nothing above the transport knows the difference."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from lifecycle import protocol
from subprocess_host.server.messages import HostCell, NotebookSnapshot, encode_host
from tests.e2e.conftest import BUNDLE_DIR
from tests.e2e.helpers import cell, outputs, wait_idle

ORIGIN = "http://amphi.test"

WORKER = """
const boot = %(boot)s;
const replies = %(replies)s;
const channel = new BroadcastChannel("fake-worker");
const frame = (bytes) => new Uint8Array(bytes);
let received = 0;
self.onmessage = (event) => {
  const message = event.data;
  if (message.kind === "init") {
    channel.postMessage({ init: true, interrupt: message.interruptBuffer !== null });
    self.postMessage({ kind: "progress", stage: "Loading Python", progress: 0.5 });
    setTimeout(() => {
      self.postMessage({ kind: "ready" });
      for (const bytes of boot) { const f = frame(bytes); self.postMessage({ kind: "frame", data: f }, [f.buffer]); }
    }, 800);
    return;
  }
  if (message.kind === "frame") {
    if (!(message.data instanceof Uint8Array)) throw new Error("frames must be Uint8Array");
    channel.postMessage({ frame: Array.from(message.data) });
    for (const bytes of replies[received] || []) { const f = frame(bytes); self.postMessage({ kind: "frame", data: f }, [f.buffer]); }
    received += 1;
  }
};
"""


INLINE_WIDGET = """
export default {
  render({ model, el }) {
    const bytes = new Uint8Array(model.get("payload").buffer);
    el.innerHTML = `<b class="inline-widget">${model.get("label")}: ${Array.from(bytes).join(",")}</b>`;
  },
};
"""


def test_the_bundle_runs_over_the_worker_transport(page: Page) -> None:
    snapshot = NotebookSnapshot(
        cells=[HostCell(id="c1", kind="code", source="x = 6 * 7\nx")], path="/site/demo.py", mode="edit", saved=True
    )
    boot = [list(encode_host(snapshot)), list(protocol.encode(protocol.KernelReady(python="3.14.2")))]
    run_reply = [
        list(protocol.encode(m))
        for m in (
            protocol.CellStatus(cell_id="c1", status="queued"),
            protocol.CellStatus(cell_id="c1", status="running", timestamp=1.0),
            protocol.CellOutput(cell_id="c1", data={"text/plain": "42"}, kind="result"),
            # A widget whose ES module is inline source (a kernel without a virtual-file store).
            protocol.WidgetModelUpdate(
                model_id="m1",
                method="open",
                state={"_esm": INLINE_WIDGET, "label": "inline widget"},
                buffer_paths=[["payload"]],
                buffers=[b"\x01\x02\x03"],
            ),
            protocol.CellOutput(
                cell_id="c1",
                data={"application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2}, "text/plain": "W"},
            ),
            protocol.CellStatus(cell_id="c1", status="idle", timestamp=1.25),
            protocol.CompletedRun(cell_ids=["c1"]),
        )
    ]
    worker_js = WORKER % {"boot": json.dumps(boot), "replies": json.dumps([run_reply])}
    config = json.dumps({"transport": "worker", "worker": "/fake-worker.js", "path": "/site/demo.py"})
    index = (BUNDLE_DIR / "index.html").read_text().replace(
        "</head>", f'<script type="application/json" id="amphi-config">{config}</script></head>'
    )

    def handle(route: Route) -> None:
        path = route.request.url[len(ORIGIN) :].split("?", 1)[0]
        if path == "/":
            route.fulfill(body=index, content_type="text/html")
        elif path == "/fake-worker.js":
            route.fulfill(body=worker_js, content_type="text/javascript")
        else:
            file = (BUNDLE_DIR / path.lstrip("/")).resolve()
            if file.is_relative_to(BUNDLE_DIR) and file.is_file():
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".js":
                    kind = "text/javascript"
                route.fulfill(body=Path(file).read_bytes(), content_type=kind)
            else:
                route.fulfill(status=404, body="not found")

    page.context.route(f"{ORIGIN}/**", handle)
    page.goto(f"{ORIGIN}/")
    page.evaluate(
        """() => { window.__fromPage = []; const ch = new BroadcastChannel("fake-worker");
        ch.onmessage = (e) => window.__fromPage.push(e.data); }"""
    )
    expect(page.locator(".loading")).to_have_text("Loading Python (50%)")
    page.wait_for_selector(".notebook-view")
    wait_idle(page)
    expect(page.locator(".title")).to_have_text("demo.py")
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 0).locator(".output").first).to_have_text("42")
    expect(outputs(page, 0).locator(".inline-widget")).to_have_text("inline widget: 1,2,3")
    expect(cell(page, 0).locator(".cell-status")).to_have_text("250 ms")
    received = page.evaluate("window.__fromPage")
    frames = [bytes(m["frame"]) for m in received if "frame" in m]
    assert len(frames) == 1
    command = protocol.decode_command(frames[0])
    assert isinstance(command, protocol.ExecuteCells)
    assert command.cell_ids == ["c1"] and command.codes == ["x = 6 * 7\nx"] and command.order == ["c1"]
    assert page.js_errors == []
