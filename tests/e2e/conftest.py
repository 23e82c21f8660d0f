"""End-to-end fixtures: Debian's Chromium driven by Python playwright, ``amphi edit|run``
(the real command line, ``--no-browser --port 0``) started on temporary notebooks.

Chromium comes from ``web/scripts/install-chromium.sh`` (never ``playwright install``); the
frontend bundle from ``npm run build`` in ``web/``.  Screenshots go to ``test-artifacts/e2e/``
(plus one of the page for every failing test).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR
from tests.chromium import chromium_browser, test_failed

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
SERVER_START_TIMEOUT = 30.0
_SCRIPT = Path(sys.executable).with_name("amphi")
AMPHI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "subprocess_host.cli"]
"""The ``amphi`` console script of this environment (``.venv/bin/amphi``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.e2e)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test in a real Chromium")


def artifacts_dir() -> Path:
    """``test-artifacts/e2e/`` (git-ignored), created on first use."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not (BUNDLE_DIR / "index.html").is_file():
        pytest.fail(f"the frontend is not built ({BUNDLE_DIR}): run `npm ci && npm run build` in web/")
    for stale in artifacts_dir().glob("FAILED-*.png"):  # from an earlier run
        stale.unlink()
    with chromium_browser() as chromium:
        yield chromium


@dataclass
class Server:
    """One ``amphi edit|run`` process."""

    mode: str
    notebook: Path
    process: subprocess.Popen[str]
    url: str
    log: Path
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url.split("?", 1)[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _read_url(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("http://"):
            return line.strip()
    raise RuntimeError("the server did not print its URL")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(mode, source, name="nb.py")``: write ``source`` to a notebook in a temporary
    directory (``None``: let ``amphi edit`` create it) and start the server on it."""
    servers: list[Server] = []

    def start(mode: str = "edit", source: str | None = None, name: str = "nb.py") -> Server:
        notebook = tmp_path / name
        if source is not None:
            notebook.write_text(source, encoding="utf-8")
        log = tmp_path / f"server-{len(servers)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [*AMPHI, mode, str(notebook), "--no-browser", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env=env,
        )
        try:
            url = _read_url(process, SERVER_START_TIMEOUT)
        except RuntimeError:
            process.kill()
            raise RuntimeError(f"amphi {mode} did not start:\n{log.read_text()}") from None
        server = Server(mode, notebook, process, url, log)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def context(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})  # type: ignore[attr-defined]
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: object, request: pytest.FixtureRequest) -> Iterator[object]:
    page = context.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.set_default_timeout(15000)
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    failed = test_failed(request)
    if failed and not page.is_closed():
        path = artifacts_dir() / f"FAILED-{request.node.name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception:
            pass
    if not page.is_closed():
        page.close()
