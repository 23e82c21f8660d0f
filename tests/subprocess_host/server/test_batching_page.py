"""The built page in a real Chromium (tests/chromium.py) reads batched ``frames`` messages.

The page asks for batches (``/ws?batch=1``, web/src/transport/websocket.ts); a run-mode slider
move then comes back as one ``frames`` message, and the page must show every frame in it:
the dependent cell's new output (and the stale one gone).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.sync_api import expect

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.server.batching import FRAMES_TYPE, split_message
from subprocess_host.server.config import DEFAULT_WEB_DIST
from tests.chromium import chromium_browser

from .harness import ServerThread, make_config

pytestmark = pytest.mark.timeout(180)
TIMEOUT = 30_000


@pytest.fixture
def page() -> Iterator[Any]:
    if not (DEFAULT_WEB_DIST / "index.html").is_file():
        pytest.fail(f"the frontend is not built ({DEFAULT_WEB_DIST}): run `npm run build` in web/")
    with chromium_browser() as chromium:
        context = chromium.new_context(viewport={"width": 1000, "height": 700})
        try:
            yield context.new_page()
        finally:
            context.close()


def test_the_run_page_asks_for_batches_and_shows_every_frame_of_one(tmp_path: Path, page: Any) -> None:
    path = tmp_path / "app.py"
    write_notebook(path, Notebook(cells=[
        Cell(id="s", kind="code", source="from lifecycle import ui\ns = ui.slider(0, 10, value=3)\ns"),
        Cell(id="d", kind="code", source="print('moved to', s.value)\ns.value * 100"),
    ]))
    server = ServerThread(make_config("run", path, web_dist=DEFAULT_WEB_DIST))
    server.start()
    try:
        sockets: list[Any] = []
        received: list[bytes] = []

        def on_socket(ws: Any) -> None:
            sockets.append(ws)
            ws.on("framereceived", lambda payload: received.append(payload if isinstance(payload, bytes) else b""))

        page.on("websocket", on_socket)
        page.goto(server.url())
        cells = page.locator("section.app-cell")  # a percent file keeps no cell ids
        dependent = cells.nth(1)
        expect(dependent).to_contain_text("300", timeout=TIMEOUT)
        assert sockets and "batch=1" in sockets[0].url
        # Whether the output shares a batch with other frames depends on timing (the writer
        # sends what is waiting when it runs): move until a batch carried the dependent
        # cell's output, and check the page showed that output.
        batched_output = False
        for value in (7, 4, 9, 2, 8, 5, 6, 1):
            mark = len(received)
            cells.nth(0).locator("amphi-ui input[type=range]").fill(str(value))
            expect(dependent).to_contain_text(f"{value * 100}", timeout=TIMEOUT)
            expect(dependent).not_to_contain_text("300")
            batches = [m for m in received[mark:] if m and msgspec.msgpack.decode(m)["type"] == FRAMES_TYPE]
            kinds = [msgspec.msgpack.decode(f)["type"] for b in batches for f in split_message(b)]
            if "cell-output" in kinds:
                batched_output = True
                break
        assert batched_output, "no move's output came inside a batch"
    finally:
        server.stop()
