"""Charts and math on a documentation page with islands: the islands script lives in the
site's ``_amphi/`` folder, the page elsewhere, and the chart and KaTeX chunks (with KaTeX's
stylesheet and fonts) load from ``_amphi/chunks/`` when an island's output needs them.  The
kernel is a scripted worker that follows the Worker transport contract (as in
``test_islands_page.py``); the real one is exercised by ``test_sites.py``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lifecycle import protocol
from pyodide_host.islands import ISLANDS_SCRIPT, Island, island_html, script_tag
from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR

pytestmark = pytest.mark.timeout(120)

# Answers init with ready + kernel-ready, and the first execute-cells with `reply`.
WORKER = """
const reply = %(reply)s;
const send = (bytes) => { const f = new Uint8Array(bytes); self.postMessage({ kind: "frame", data: f }, [f.buffer]); };
let answered = false;
self.onmessage = (event) => {
  if (event.data.kind === "init") {
    self.postMessage({ kind: "ready" });
    send(%(ready)s);
  } else if (event.data.kind === "frame" && !answered) {
    answered = true;
    for (const bytes of reply) send(bytes);
  }
};
"""

VEGA_LITE = {
    "data": {"values": [{"k": "a", "n": 2}, {"k": "b", "n": 5}, {"k": "c", "n": 3}, {"k": "d", "n": 4}]},
    "mark": "bar",
    "encoding": {"x": {"field": "k", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
}
PLOTLY = {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 3]}], "layout": {"height": 300}}


def reply() -> list[list[int]]:
    status = protocol.CellStatus
    notes = [
        status(cell_id="chart", status="running", timestamp=1.0),
        protocol.CellOutput(cell_id="chart", data={"application/vnd.vegalite.v5+json": VEGA_LITE, "text/plain": "chart"}, kind="result"),
        status(cell_id="chart", status="idle", timestamp=1.1),
        status(cell_id="figure", status="running", timestamp=1.1),
        protocol.CellOutput(cell_id="figure", data={"application/vnd.plotly.v1+json": PLOTLY, "text/plain": "figure"}, kind="result"),
        status(cell_id="figure", status="idle", timestamp=1.2),
        status(cell_id="math", status="running", timestamp=1.2),
        protocol.CellOutput(cell_id="math", data={"text/latex": r"$\sqrt{x^2 + 1}$", "text/plain": "sqrt"}, kind="result"),
        status(cell_id="math", status="idle", timestamp=1.3),
        protocol.CompletedRun(cell_ids=["chart", "figure", "math"]),
    ]
    return [list(protocol.encode(n)) for n in notes]


def test_islands_draw_charts_and_math_from_the_runtime_folder(page: Page, tmp_path: Path, static_server) -> None:
    if not (BUNDLE_DIR / ISLANDS_SCRIPT).is_file():
        pytest.fail(f"the web bundle has no {ISLANDS_SCRIPT} ({BUNDLE_DIR}): run `npm run build` in web/")
    runtime = tmp_path / "_amphi"
    runtime.mkdir()
    for name in (ISLANDS_SCRIPT, ISLANDS_SCRIPT.replace(".js", ".css")):
        shutil.copy2(BUNDLE_DIR / name, runtime / name)
    shutil.copytree(BUNDLE_DIR / "chunks", runtime / "chunks")
    ready = list(protocol.encode(protocol.KernelReady(python="3.14.2")))
    (runtime / "fake-worker.js").write_text(WORKER % {"reply": json.dumps(reply()), "ready": json.dumps(ready)})
    blocks = [island_html(Island(code), cell_id) for cell_id, code in [("chart", "chart"), ("figure", "fig"), ("math", "tex")]]
    tag = script_tag(f"_amphi/{ISLANDS_SCRIPT}").replace(" src=", ' data-worker="_amphi/fake-worker.js" src=')
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>Docs</title></head>"
        f"<body><h1>Charts</h1>{''.join(blocks)}{tag}</body></html>"
    )
    server = static_server(tmp_path)
    page.goto(server.url)
    islands = page.locator(".amphi-island")
    expect(islands.nth(0).locator(".vega-lite-output svg .mark-rect path")).to_have_count(4)
    expect(islands.nth(1).locator(".plotly-output svg.main-svg .barlayer .trace .point")).to_have_count(2)
    expect(islands.nth(2).locator(".latex-output .katex .sqrt")).to_have_count(1)
    assert islands.nth(2).locator(".katex-mathml").evaluate("e => getComputedStyle(e).position") == "absolute"
    chunks = {m.group(1) for path in server.requests if (m := re.search(r"^/_amphi/chunks/(vega|plotly|katex)-", path))}
    assert chunks == {"vega", "plotly", "katex"}
    assert page.js_errors == []
    assert page.foreign == []
