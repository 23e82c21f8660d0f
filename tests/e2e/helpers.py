"""Page helpers shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Server, artifacts_dir

TIMEOUT = 15000


def open_notebook(page: Page, server: Server) -> None:
    """Load the page of an ``amphi edit`` server and wait for an idle kernel."""
    page.goto(server.url)
    page.wait_for_selector(".notebook-view")
    wait_idle(page)


def open_app(page: Page, server: Server) -> None:
    """Load the page of an ``amphi run`` server and wait until every cell ran."""
    page.goto(server.url)
    page.wait_for_selector(".app-view")
    wait_idle(page)


def wait_idle(page: Page, timeout: float = TIMEOUT) -> None:
    expect(page.locator(".kernel-status")).to_have_attribute("data-state", "idle", timeout=timeout)


def cells(page: Page) -> Locator:
    return page.locator("main.cells section.cell")


def cell(page: Page, index: int) -> Locator:
    return cells(page).nth(index)


def outputs(page: Page, index: int) -> Locator:
    return cell(page, index).locator(".outputs")


def set_code(page: Page, index: int, code: str) -> None:
    """Replace a cell's code as a paste would (no auto-indent or bracket closing)."""
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(code)


def run_cell(page: Page, index: int) -> None:
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")


def session_eval(page: Page, expression: str) -> Any:
    """Evaluate JS with ``s`` bound to the page's session."""
    return page.evaluate(f"(() => {{ const s = window.amphi.session; return {expression}; }})()")


def shot(page: Page, name: str, full_page: bool = True) -> None:
    """Save a screenshot under test-artifacts/e2e/.  For a full page the viewport is first
    grown to the page's height, so that sandboxed (out-of-process) output frames, which
    Chromium does not paint while off screen, are painted."""
    path = str(artifacts_dir() / f"{name}.png")
    if not full_page:
        page.screenshot(path=path)
        return
    size = page.viewport_size
    assert size is not None
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.wait_for_timeout(400)
    page.screenshot(path=path)
    page.set_viewport_size(size)


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px viewport"
