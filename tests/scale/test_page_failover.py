"""The real page in Chromium, through HAProxy: its instance is killed, the page's own
reconnection (``?resume=<id>``) lands on the other instance and gets the same session back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.server.config import DEFAULT_WEB_DIST
from tests.chromium import chromium_browser

from .haproxy import Deployment, become_subreaper, haproxy_binary

pytestmark = pytest.mark.timeout(240)

CONSOLE = """() => {
  const cell = window.amphi.session.cells[1];
  return cell ? cell.outputs.map((o) => o.message.text || "").join("") : "";
}"""


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Deployment]:
    haproxy_binary()
    become_subreaper()
    apps = tmp_path / "apps"
    apps.mkdir()
    cells = [Cell(id="c0", kind="code", source="import random\nr = random.random()"),
             Cell(id="c1", kind="code", source="print('value', r)")]
    write_notebook(apps / "lucky.py", Notebook(cells=cells))
    write_notebook(apps / "other.py", Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    deployed = Deployment(apps, tmp_path, count=2, grace=5.0)
    try:
        deployed.start()
        yield deployed
    finally:
        deployed.stop()


def _server_cookie(context: object) -> str:
    cookies = context.cookies()  # type: ignore[attr-defined]
    return next(c["value"] for c in cookies if c["name"] == "SERVERID")


def test_the_page_resumes_its_session_on_another_instance(pair: Deployment) -> None:
    assert (DEFAULT_WEB_DIST / "index.html").is_file(), "build the frontend: cd web && npm run build"
    with chromium_browser() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(60_000)
        response = page.goto(f"{pair.base}/lucky/")
        assert response is not None
        first = response.headers["x-served-by"]
        page.wait_for_function(f"({CONSOLE})().startsWith('value ')")
        value = page.evaluate(CONSOLE)
        assert _server_cookie(context) == first

        pair.instance(first).kill()
        page.wait_for_function("window.amphi.transport.status.state !== 'open'")
        deadline = time.monotonic() + 60
        while _server_cookie(context) == first:  # the WebSocket upgrade through HAProxy re-pins it
            assert time.monotonic() < deadline, "the page did not reconnect to another instance"
            page.wait_for_timeout(100)
        page.wait_for_function("window.amphi.transport.status.state === 'open'")
        page.wait_for_function(f"({CONSOLE})().startsWith('value ')")
        # The same session: the value computed before the failure, not a fresh run's.
        assert page.evaluate(CONSOLE) == value
        assert page.evaluate("window.amphi.session.kernelState") in ("idle", "busy")
        assert page.locator("text=this app restarted").count() == 0
        context.close()
