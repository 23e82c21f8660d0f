"""Fixtures for the islands tests: Sphinx and MkDocs builds into ``tmp_path``, a static HTTP
server on 127.0.0.1, and Debian's Chromium driven by Python playwright (flags of
``tests/e2e/conftest.py``; never ``playwright install``)."""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import chromium_browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "islands"


def sphinx_build(src: Path, out: Path, *, builder: str = "html") -> str:
    """Build ``src`` (with its ``conf.py``) into ``out`` with a real ``Sphinx`` application;
    returns the warnings text (without colours).  Each build gets its own docutils registry
    (several applications in one process)."""
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor
    from sphinx.util.docutils import docutils_namespace

    nocolor()
    warnings = io.StringIO()
    with docutils_namespace():
        app = Sphinx(
            srcdir=src,
            confdir=src,
            outdir=out,
            doctreedir=out / ".doctrees",
            buildername=builder,
            status=None,
            warning=warnings,
            freshenv=True,
        )
        app.build()
    return warnings.getvalue()


# ------------------------------------------------------------------------------ static server


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".whl": "application/octet-stream",
        ".zip": "application/zip",
        ".css": "text/css",
    }

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").exists():
            self.send_response(204)  # browsers ask for it; a 404 would be a console error
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


@dataclass
class StaticServer:
    """A directory served over HTTP on 127.0.0.1 (``url`` ends with ``/``)."""

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def static_server() -> Iterator[Callable[[Path], StaticServer]]:
    """``static_server(directory)``: serve it on 127.0.0.1 (an ephemeral port) until the test
    ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(root: Path) -> StaticServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
        httpd.daemon_threads = True
        httpd.requests = []  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, name="islands-static", daemon=True).start()
        servers.append(httpd)
        info = StaticServer(root, f"http://127.0.0.1:{httpd.server_address[1]}/")
        info.requests = httpd.requests  # type: ignore[attr-defined]
        return info

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the Pyodide runtime is built with npm and node)")
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; ``page.js_errors`` collects page errors and console errors,
    ``page.foreign`` every request that left 127.0.0.1.  A failing test leaves a screenshot
    in ``test-artifacts/islands/``."""
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)

    def local(url: str) -> bool:
        return url.startswith(("http://127.0.0.1:", "blob:", "data:"))

    def refuse(route: Any) -> None:  # nothing leaves the machine (no CDN, no network)
        foreign.append(route.request.url)
        route.abort()

    context.route(lambda url: not local(url), refuse)
    page.set_default_timeout(30000)
    page.js_errors = errors
    page.foreign = foreign  # requests that would have left 127.0.0.1 (refused)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        except Exception:
            pass
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
