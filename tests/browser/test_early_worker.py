"""The exported page starts its kernel worker from an inline script (``pyodide_host/export/page.py``),
before its bundle has loaded: the worker gets ``preload`` and starts the runtime's downloads and
Python at once, and the bundle (``web/src/main.ts``) adopts that worker instead of making a
second one.  The worker also requests the runtime's wasm and standard library itself
(``web/src/worker/prefetch.ts``), and Pyodide's loader takes those responses: each file is
downloaded once.

Checked against the general path: the same site with the inline script removed (the bundle
creates the worker and sends ``init`` only) gives the same outputs with the same requests.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.export.page import _EARLY_WORKER
from tests.browser.conftest import export
from tests.browser.test_static_site import BOOT, guard_network, wait_idle

NOTEBOOK = """# %%
import statistics

values = [1, 2, 3, 4]

# %%
statistics.mean(values) * 2
"""

ONCE = ("/worker.js", "/pyodide/pyodide.asm.wasm", "/pyodide/python_stdlib.zip", "/pyodide/memory-snapshot.bin.gz")
"""Requests an exported page makes once (two would be a double download)."""


@pytest.fixture(scope="module")
def early_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("early")
    notebook = base / "early.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    site = export(notebook, base / "site")
    index = (site / "index.html").read_text(encoding="utf-8")
    assert index.count(_EARLY_WORKER) == 1
    (site / "late.html").write_text(index.replace(_EARLY_WORKER, ""), encoding="utf-8")
    return site


def run_page(open_page, url: str) -> tuple[Page, list[str]]:  # type: ignore[no-untyped-def]
    """Open ``url`` (returns once the navigation committed); the list collects requests that
    left 127.0.0.1 and console errors."""
    page: Page = open_page()
    notes = guard_network(page)
    page.on("console", lambda msg: notes.append(f"console error: {msg.text}") if msg.type == "error" else None)
    page.goto(url, wait_until="commit")
    return page, notes


def outputs(page: Page) -> list[str]:
    wait_idle(page)
    expect(page.locator("section.app-cell.code .output")).to_have_text(["5.0"], timeout=BOOT)
    return page.locator("section.app-cell.code .output").all_inner_texts()


@pytest.mark.timeout(400)
def test_the_early_worker_downloads_before_the_bundle_loads_and_is_adopted(
    early_site: Path, static_server, open_page
) -> None:
    # The bundle cannot load until the runtime's downloads have been asked for: only the
    # inline script's worker can have asked.
    server = static_server(early_site, isolation_headers=True)
    held = server.hold("/app.js")
    page, notes = run_page(open_page, server.url)
    deadline = time.monotonic() + BOOT / 1e3
    while not {"/pyodide/pyodide.asm.wasm", "/pyodide/memory-snapshot.bin.gz"} <= set(server.requests):
        assert time.monotonic() < deadline, server.requests
        time.sleep(0.05)
    assert page.evaluate("typeof window.amphi") == "undefined"  # the bundle has not run
    held.set()
    early = outputs(page)
    assert page.evaluate("window.__amphiEarlyWorker") is None  # adopted by the bundle
    assert [w.url for w in page.workers].count(server.url + "worker.js") == 1
    counts = Counter(server.requests)
    assert all(counts[path] == 1 for path in ONCE), counts
    assert notes == []
    assert page.js_errors == []  # type: ignore[attr-defined]

    # The general path: no inline script, the bundle makes the worker and sends `init` only.
    server = static_server(early_site, isolation_headers=True)
    page, notes = run_page(open_page, server.url + "late.html")
    assert outputs(page) == early
    counts = Counter(server.requests)
    assert all(counts[path] == 1 for path in ONCE), counts
    assert notes == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(300)
def test_a_page_that_may_reload_for_isolation_leaves_the_worker_to_the_bundle(
    early_site: Path, static_server, open_page
) -> None:
    # No COOP/COEP headers, a service worker to add them: the page may reload once, so the
    # inline script starts nothing; the page still runs (after its one reload).
    server = static_server(early_site, isolation_headers=False)
    page, notes = run_page(open_page, server.url)
    outputs(page)
    assert page.evaluate("crossOriginIsolated") is True
    assert Counter(server.requests)["/pyodide/pyodide.asm.wasm"] == 1  # not on the page before the reload
    assert notes == []
    assert page.js_errors == []  # type: ignore[attr-defined]
