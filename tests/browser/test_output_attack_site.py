"""Notebook output cannot attack an EXPORTED site (``amphi export html-wasm``; issue 16).

The same attacking outputs as the edit-view and app-view tests
(:mod:`tests.security.browser.test_browser`: ``<img onerror>``, ``<script>``, a ``javascript:``
link, SVG with script, markdown with raw HTML, an SVG image) are produced by the notebook
itself, in Pyodide, on a static site served from 127.0.0.1.

There is no token or cookie on an exported site.  What an output must not get is the page
itself: run script in it (``window.__pwned``), navigate the top page, or reach the kernel
(the Web Worker: a command posted to it would run code in the reader's Pyodide, e.g. to read
the notebook's files or act for the reader).  Every message the page posts to its worker is
recorded by an init script; none may carry the attack's code (except the worker's start-up
messages, ``preload`` and ``init``, whose options are the site's own published notebook).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import export
from tests.browser.test_static_site import open_site, wait_idle
from tests.security.browser.test_browser import notebook_source

MARK = "PWNED-EXPORT-7F3A"
RECORD_WORKER_POSTS = r"""
window.__workerPosts = [];
window.__stolen = [];
(() => {
  const post = Worker.prototype.postMessage;
  const text = (v) => {
    if (v instanceof ArrayBuffer) v = new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new TextDecoder("latin1").decode(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (v && typeof v === "object") return Object.values(v).map(text).join(" ");
    return String(v);
  };
  Worker.prototype.postMessage = function (message, ...rest) {
    // "preload"/"init" carry the site's own workerOptions (the published notebook, the same for
    // every reader): recorded without them.  Everything else is recorded whole.
    const starts = message && (message.kind === "init" || message.kind === "preload");
    const shown = starts ? { kind: message.kind } : message;
    try { window.__workerPosts.push(text(shown)); } catch (e) { window.__workerPosts.push("unreadable"); }
    return post.call(this, message, ...rest);
  };
  addEventListener("message", (e) => { if (e.data && e.data.stolen) window.__stolen.push(JSON.stringify(e.data.stolen)); });
})();
"""


@pytest.fixture(scope="module")
def attack_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("attack")
    notebook = base / "attack.py"
    notebook.write_text(notebook_source(Path("/tmp") / MARK, "ws://127.0.0.1:9/ws"), encoding="utf-8")
    return export(notebook, base / "site", "--no-memory-snapshot")


@pytest.mark.timeout(300)
def test_outputs_cannot_attack_an_exported_site(attack_site: Path, static_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server = static_server(attack_site, isolation_headers=True)
    page = open_page()
    page.add_init_script(RECORD_WORKER_POSTS)
    page, outside = open_site(lambda **kw: page, server)
    frames = page.locator("iframe.html-frame")
    expect(frames.nth(1)).to_be_attached(timeout=180_000)  # the scripted outputs were rendered
    wait_idle(page)
    # The scripts in the outputs did run (inside their sandbox): they posted what they found.
    page.wait_for_function("window.__stolen.length > 0", timeout=30_000)
    url = page.url
    link = page.locator("#jslink")
    if link.count():
        link.first.click()
    page.wait_for_timeout(1000)
    assert page.url == url and "pwned" not in page.url, "an output navigated the top page"
    assert page.evaluate("window.__pwned") is None, "an output ran script in the page"
    assert page.evaluate("document.baseURI").startswith(server.url), "an output changed the page's base URL"
    posts = page.evaluate("window.__workerPosts")
    assert posts, "the page's messages to its worker were not recorded"
    assert not [p for p in posts if MARK in p or "evil" in p], "an output sent a command to the kernel"
    for stolen in page.evaluate("window.__stolen"):
        assert '"top":"blocked"' in stolen.replace(" ", ""), stolen  # the top page is out of reach
    assert outside == []
