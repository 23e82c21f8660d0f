"""What the page shows for save faults, in a real Chromium (tests/chromium.py): a save that the
disk refuses, and a notebook file changed by another program (banner with Reload / Overwrite).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lifecycle.notebook import Cell, Notebook, read_notebook, write_notebook
from subprocess_host.server.config import DEFAULT_WEB_DIST
from tests.chromium import chromium_browser

from .server import AmphiServer, file_size_limit

pytestmark = pytest.mark.timeout(180)
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (DEFAULT_WEB_DIST / "index.html").is_file():
        pytest.fail(f"the frontend is not built ({DEFAULT_WEB_DIST}): run `npm run build` in web/")
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def open_notebook(page: Any, server: AmphiServer) -> None:
    page.goto(server.url)
    page.wait_for_selector(".notebook-view")
    expect(page.locator(".kernel-status")).to_have_attribute("data-state", "idle", timeout=TIMEOUT)


def save_button(page: Any) -> Any:
    return page.locator(".toolbar-actions button", has_text="Save")


def write_percent(path: Path, *sources: str) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


def test_a_save_the_disk_refuses_is_shown_and_the_file_kept(tmp_path: Path, page: Any) -> None:
    path = write_percent(tmp_path / "nb.py", "a = 1")
    original = path.read_bytes()
    with AmphiServer("edit", path, preexec=file_size_limit(256 * 1024)) as server:
        open_notebook(page, server)
        page.evaluate("() => { window.amphi.session.cells[0].source = 'x = \"' + 'y'.repeat(600000) + '\"'; }")
        save_button(page).click()
        toast = page.locator(".toast.error")
        expect(toast).to_contain_text("save failed", timeout=TIMEOUT)
        expect(toast).to_contain_text("File too large")
        expect(toast).to_contain_text("the file on disk is unchanged")
        assert path.read_bytes() == original
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_file_changed_on_disk_offers_reload_and_overwrite(tmp_path: Path, page: Any) -> None:
    path = write_percent(tmp_path / "nb.py", "a = 1")
    with AmphiServer("edit", path) as server:
        open_notebook(page, server)
        banner = page.locator(".disk-banner")
        expect(banner).to_be_hidden()

        # Another program rewrites the file: the page is told and offered both ways out.
        write_percent(path, "a = 'from the other program'")
        expect(banner).to_be_visible(timeout=TIMEOUT)
        expect(banner).to_contain_text("changed on disk by another program")
        # Saving now is refused, never silently written over the other program's file.
        save_button(page).click()
        expect(page.locator(".toast.error")).to_contain_text("changed on disk", timeout=TIMEOUT)
        assert [c.source for c in read_notebook(path).cells] == ["a = 'from the other program'"]

        # Reload: the cell shows the file's code, the banner goes.
        banner.locator("button[data-action=reload]").click()
        expect(banner).to_be_hidden(timeout=TIMEOUT)
        expect(page.locator("main.cells section.cell").first.locator(".cm-content")).to_contain_text(
            "from the other program", timeout=TIMEOUT)

        # Changed again: Overwrite writes the page's cells over it.
        write_percent(path, "b = 'second change'")
        expect(banner).to_be_visible(timeout=TIMEOUT)
        banner.locator("button[data-action=overwrite]").click()
        expect(banner).to_be_hidden(timeout=TIMEOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "second change" in path.read_text():
            time.sleep(0.1)
        assert [c.source for c in read_notebook(path).cells] == ["a = 'from the other program'"]
