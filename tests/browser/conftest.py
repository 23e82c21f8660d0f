"""Browser-host acceptance fixtures: sites exported with ``amphi export html-wasm``, served by a
real static file server (``http.server`` in a thread on 127.0.0.1, optional COOP/COEP headers),
opened in Debian's Chromium through Python playwright (flags: ``tests/e2e/conftest.py``).

The server can *hold* chosen paths (their responses wait until released), so a test can look
at the page while Pyodide is still loading without any timing assumption, and answers
``/api/echo`` (JSON) for the ``urllib`` test.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pyodide_host.build import pinned_versions
from tests.chromium import chromium_browser, test_failed
from tests.e2e.conftest import AMPHI, REPO, artifacts_dir

EXPORT_TIMEOUT = 600
PACKAGE = "tabulate"
"""A small pure-Python package the tests ship in the site's local index (pinned in
requirements-dev.txt)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: the Pyodide host in a real Chromium")


def package_requirement() -> str:
    """``tabulate==<pinned>``."""
    return f"{PACKAGE}=={pinned_versions([PACKAGE])[PACKAGE]}"


# ------------------------------------------------------------------------------ server


@dataclass
class StaticServer:
    """A static file server on 127.0.0.1 (see the module docstring)."""

    root: Path
    isolation_headers: bool
    httpd: http.server.ThreadingHTTPServer
    holds: dict[str, threading.Event] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def hold(self, suffix: str) -> threading.Event:
        """Make requests whose path ends with ``suffix`` wait until the returned event is set."""
        event = threading.Event()
        self.holds[suffix] = event
        return event

    def release_all(self) -> None:
        for event in self.holds.values():
            event.set()


def _handler(server_ref: list[StaticServer]) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".mjs": "text/javascript",
            ".js": "text/javascript",
            ".wasm": "application/wasm",
            ".whl": "application/zip",
            ".json": "application/json",
            ".msgpack": "application/octet-stream",
            ".py": "text/x-python",
        }

        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(server_ref[0].root), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def end_headers(self) -> None:
            server = server_ref[0]
            if server.isolation_headers:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
                self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

        def do_GET(self) -> None:
            server = server_ref[0]
            path = urlsplit(self.path).path
            server.requests.append(path)
            for suffix, event in list(server.holds.items()):
                if path.endswith(suffix):
                    event.wait(120)
            if path == "/api/echo":
                query = parse_qs(urlsplit(self.path).query)
                body = json.dumps({"echo": query.get("q", [""])[0], "agent": "static-server"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

    return Handler


@pytest.fixture
def static_server() -> Iterator[Callable[..., StaticServer]]:
    """``static_server(root, isolation_headers=False)``: serve ``root`` on 127.0.0.1."""
    servers: list[StaticServer] = []

    def start(root: Path, isolation_headers: bool = False) -> StaticServer:
        ref: list[StaticServer] = []
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
        httpd.daemon_threads = True
        server = StaticServer(Path(root), isolation_headers, httpd)
        ref.append(server)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release_all()
        server.httpd.shutdown()
        server.httpd.server_close()


# ------------------------------------------------------------------------------ exports


def export(notebook: Path, out: Path, *args: str) -> Path:
    """Run ``amphi export html-wasm NOTEBOOK -o OUT ARGS...`` (the real command line)."""
    proc = subprocess.run(
        [*AMPHI, "export", "html-wasm", str(notebook), "-o", str(out), *args],
        cwd=REPO, capture_output=True, text=True, timeout=EXPORT_TIMEOUT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"amphi export failed ({proc.returncode}):\n{proc.stderr}")
    return out


TOOLS_NOTEBOOK = '''# %%
import time

def spin():
    while True:
        time.sleep(0.001)

# %% ask
answer = input("Your name? ")
print(f"hello {answer}")

# %% loop
spin()

# %% package
import tabulate

tabulate.tabulate([["a", 1], ["b", 2]], headers=["name", "n"])

# %% http
import json
import urllib.request
from js import location

with urllib.request.urlopen(location.origin + "/api/echo?q=from-python") as response:
    payload = json.load(response)
payload

# %% missing
import amphi_no_such_package

# %% widget
from lifecycle import context, protocol
from lifecycle.display import display
from lifecycle.virtual_files import publish

source = b"export default { render({ model, el }) { el.innerHTML = `<b class='esm-widget'>${model.get('label')}</b>`; } };"
module = publish(source, "widget.js", "text/javascript")
state = {"_esm": {"url": module, "mimetype": "text/javascript"}, "label": "an ES module from the kernel"}
context.current().emit(protocol.WidgetModelUpdate(model_id="w1", method="open", state=state))
display({"application/vnd.jupyter.widget-view+json": {"model_id": "w1", "version_major": 2}, "text/plain": "widget"}, raw=True)
'''
"""Cells the interrupt / input / packages / http tests run one by one (edit mode, no autorun)."""


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/browser_demo.py`` exported in run mode with its outputs."""
    out = tmp_path_factory.mktemp("demo") / "site"
    return export(REPO / "examples" / "browser_demo.py", out, "--include-outputs")


@pytest.fixture(scope="session")
def demo_edit_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/browser_demo.py`` exported in edit mode (no outputs)."""
    out = tmp_path_factory.mktemp("demo-edit") / "site"
    return export(REPO / "examples" / "browser_demo.py", out, "--mode", "edit")


@pytest.fixture(scope="session")
def tools_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook of interrupt / input / package / http cells, edit mode, with the pinned
    package resolved from PyPI into the site's local index at export time."""
    base = tmp_path_factory.mktemp("tools")
    notebook = base / "tools.py"
    notebook.write_text(TOOLS_NOTEBOOK, encoding="utf-8")
    # No memory snapshot: it would hold `tabulate` imported already, and these tests watch a
    # cell's import install it from the site's index.
    site = export(notebook, base / "site", "--mode", "edit", "-r", package_requirement(), "--no-detect-imports", "--no-memory-snapshot")
    config_path = site / "index.html"
    # The cells run one by one in these tests: no autorun (the `loop` cell never ends).
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('"autorun": true', '"autorun": false'), encoding="utf-8")
    return site


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Chromium for this package only: playwright's sync API keeps an asyncio loop running in
    this thread while it lives, which later asyncio tests (tests/pyodide) must not see."""
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def open_page(browser: object, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """``open_page(url, service_workers="allow")``: a fresh context (its own service workers)
    and page, console errors collected in ``page.js_errors``, downloads accepted."""
    contexts: list[object] = []
    pages: list[object] = []

    def make(url: str | None = None, *, service_workers: str = "allow") -> object:
        ctx = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1100, "height": 900}, service_workers=service_workers, accept_downloads=True
        )
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
        page.set_default_timeout(60_000)
        page.js_errors = errors  # type: ignore[attr-defined]
        pages.append(page)
        if url is not None:
            page.goto(url)
        return page

    yield make
    failed = test_failed(request)
    for index, page in enumerate(pages):
        if failed and not page.is_closed():  # type: ignore[attr-defined]
            try:
                page.screenshot(path=str(artifacts_dir() / f"FAILED-browser-{request.node.name}-{index}.png"), full_page=True)  # type: ignore[attr-defined]
            except Exception:
                pass
    for ctx in contexts:
        ctx.close()  # type: ignore[attr-defined]

