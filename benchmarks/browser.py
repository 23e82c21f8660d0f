"""Chromium figures of the Pyodide host (called from :mod:`benchmarks.pyodide`).

An exported notebook (``amphi export html-wasm``, run mode, one cell ``41 + 1``) and a *floor*
page are served by the same static server (``http.server`` in a thread, COOP/COEP headers) and
opened in Debian's Chromium (Python playwright, the flags of ``tests/e2e/conftest.py``):

* cold: a fresh browser context per navigation (empty HTTP cache, no service worker);
* warm: a second navigation in the same context (HTTP cache and service worker in place).
  Playwright's contexts are off the record: their in-memory HTTP cache does not keep entries
  as large as the runtime's wasm or the snapshot, so those are fetched again (from this
  machine).  A profile on disk (``launch_persistent_context``) was tried: it made cold
  navigations slower (a new profile's disk cache is written) and warm ones no faster.

Figure: navigation start -> the cell's output is in the page (``performance.now()`` in the
page when a ``MutationObserver`` sees it).  Floor: navigation start -> a bare page's module
worker has run ``loadPyodide`` + ``loadPackage("msgspec")`` + ``import msgspec`` from the same
site.  Target: <= floor + 0.5 s.  Runs are interleaved (floor, notebook) so a busy machine slows
both alike.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.report import Figure

REPO = Path(__file__).resolve().parents[1]
RUNS = 5
TIMEOUT_MS = 120_000

NOTEBOOK = "# %%\nanswer = 41 + 1\nanswer\n"

FLOOR_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>floor</title></head><body>
<script type="module">
const worker = new Worker("floor-worker.mjs", { type: "module" });
worker.onmessage = () => { window.__ready = performance.now(); };
</script></body></html>
"""

FLOOR_WORKER = """import { loadPyodide } from "./pyodide/pyodide.mjs";
const pyodide = await loadPyodide({ indexURL: new URL("./pyodide/", import.meta.url).href });
await pyodide.loadPackage(["msgspec"], { messageCallback: () => {} });
pyodide.runPython("import msgspec");
postMessage("ready");
"""

FIRST_OUTPUT = """
window.__firstOutput = null;
new MutationObserver((records, observer) => {
  if (document.querySelector(".app-cell .output")) {
    window.__firstOutput = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]  # fmt: skip


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        super().end_headers()


def _export(site: Path) -> None:
    notebook = site.parent / "bench.py"
    notebook.write_text(NOTEBOOK)
    amphi = Path(sys.executable).with_name("amphi")
    command = [str(amphi)] if amphi.is_file() else [sys.executable, "-m", "subprocess_host.cli"]
    proc = subprocess.run(
        [*command, "export", "html-wasm", str(notebook), "-o", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"amphi export failed:\n{proc.stderr}")
    (site / "floor.html").write_text(FLOOR_HTML)
    (site / "floor-worker.mjs").write_text(FLOOR_WORKER)


def _navigate(page: object, url: str, expression: str) -> float:
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_function(f"{expression} !== null && {expression} !== undefined", timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    return float(page.evaluate(expression)) / 1e3  # type: ignore[attr-defined]


def cold_and_warm(browser: object, url: str, expression: str) -> tuple[float, float]:
    """(cold, warm) navigation -> ``expression`` set, in seconds, for ``url`` in a fresh
    browser context of ``browser`` (see the module docstring); the context is closed after."""
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        context.add_init_script(FIRST_OUTPUT)
        page = context.new_page()
        return _navigate(page, url, expression), _navigate(page, url, expression)
    finally:
        context.close()


def measure() -> list[Figure] | str:
    """The Chromium figures, or a reason they were skipped."""
    executable = shutil.which("chromium")
    if executable is None:
        return "chromium is not installed (web/scripts/install-chromium.sh)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "python playwright is not installed"
    with tempfile.TemporaryDirectory(prefix="amphi-bench-") as tmp:
        site = Path(tmp) / "site"
        _export(site)

        class Handler(_Handler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(site), **kwargs)

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        cold: list[float] = []
        warm: list[float] = []
        floor_cold: list[float] = []
        floor_warm: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
                try:
                    for _ in range(RUNS):
                        for url, expression, first, second in (
                            (base + "floor.html", "window.__ready", floor_cold, floor_warm),
                            (base, "window.__firstOutput", cold, warm),
                        ):
                            one, two = cold_and_warm(browser, url, expression)
                            first.append(one)
                            second.append(two)
                finally:
                    browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    figures = []
    for name, samples, floor in (("cold", cold, floor_cold), ("warm", warm, floor_warm)):
        figures.append(
            Figure.over_floor(
                f"Chromium {name} navigation -> first output (exported notebook)",
                samples,
                floor,
                "bare page: worker loadPyodide + msgspec",
                0.5,
            )
        )
    return figures
