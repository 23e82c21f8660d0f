"""Scenario 8 in a real browser, once per run: NaN and ±Infinity from a kernel in Pyodide
(the real ``worker.js`` Web Worker in Chromium) into the page's TypeScript msgpack decoder
(``decodeFrame`` behind the real ``WorkerTransport``) and back (``encodeFrame``).

The page is ``tests/compat/web/compat-entry.ts`` bundled with the repository's esbuild; the
site is a temporary folder holding that bundle, a copy of the built ``worker.js`` and the
Pyodide dist directory, served by ``http.server`` on 127.0.0.1.  Chromium comes from
:func:`tests.chromium.chromium_browser`.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.chromium import chromium_browser

REPO = Path(__file__).resolve().parents[2]
ENTRY = Path(__file__).resolve().parent / "web" / "compat-entry.ts"
WORKER = REPO / "subprocess_host" / "static" / "app" / "worker.js"
ESBUILD = REPO / "web" / "node_modules" / ".bin" / "esbuild"
PAGE = '<!doctype html><meta charset="utf-8"><title>compat</title><script type="module" src="compat.js"></script>\n'


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _site(root: Path, dist: Path) -> None:
    proc = subprocess.run(
        [str(ESBUILD), str(ENTRY), "--bundle", "--format=esm", "--log-level=error", f"--outfile={root / 'compat.js'}"],
        cwd=REPO / "web", capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"esbuild failed: {proc.stderr[-2000:]}")
    shutil.copy2(WORKER, root / "worker.js")
    (root / "pyodide").symlink_to(dist, target_is_directory=True)
    (root / "index.html").write_text(PAGE)


def nan_in_browser(dist: Path, timeout: float = 180) -> dict[str, Any]:
    """Run the page; returns its report (``notificationKeepsNanInf``, ``uiValueKeepsNanInf``,
    ``backToKernel``, ``errors``, ``python``).

    Raises:
        RuntimeError: the bundle could not be built.
    """
    with tempfile.TemporaryDirectory(prefix="amphi-compat-web-") as tmp:
        root = Path(tmp)
        _site(root, dist)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            with chromium_browser() as browser:
                page = browser.new_page()
                console: list[str] = []
                page.on("console", lambda m: console.append(m.text))
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
                page.wait_for_function("() => typeof window.runCompat === 'function'", timeout=timeout * 1000)
                page.set_default_timeout(timeout * 1000)
                report: dict[str, Any] = page.evaluate("() => window.runCompat()")
                report["console"] = console[-5:]
                page.close()
                return report
        finally:
            httpd.shutdown()
            httpd.server_close()


def check(report: dict[str, Any]) -> tuple[bool, str]:
    """``(ok, reason)`` for a :func:`nan_in_browser` report."""
    problems = []
    if not report.get("notificationKeepsNanInf"):
        problems.append("cell-output JSON lost NaN/±Infinity in decodeFrame")
    if not report.get("uiValueKeepsNanInf"):
        problems.append("ui-element-value lost NaN/±Infinity in decodeFrame")
    if report.get("backToKernel") != ["'[nan, inf, -inf]'"]:
        problems.append(f"update-ui-element reached the kernel as {report.get('backToKernel')}")
    if report.get("errors"):
        problems.append(f"errors: {report['errors'][:2]}")
    if problems:
        return False, "; ".join(problems)
    return True, f"Chromium worker.js, Pyodide {report.get('python')}: decodeFrame keeps NaN/±Inf, encodeFrame back"
