"""A big notebook (more cells than EAGER_LIMIT, web/src/views/lazy-editors.ts) learns which
cells are near the viewport from the browser's ``contentvisibilityautostatechange`` event where
the browser has it (Chromium), else from an IntersectionObserver: both ways give the same page
(code as text far away, editors near, an editor once scrolled to).  The active cell is set
incrementally (only the cells whose state changes are touched): exactly one cell is active and
focusable at a time."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from benchmarks.big_notebook import generate, to_percent
from tests.e2e.helpers import cell, cells, open_notebook

CELLS = 90

ACTIVE = """() => {
  const all = [...document.querySelectorAll("main.cells section.cell")];
  return {
    active: all.flatMap((c, i) => (c.classList.contains("active") ? [i] : [])),
    focusable: all.flatMap((c, i) => (c.tabIndex === 0 ? [i] : [])),
  };
}"""


@pytest.mark.timeout(240)
@pytest.mark.parametrize("fallback", [False, True], ids=["content-visibility-event", "intersection-observer"])
def test_big_notebook_editors_come_near_either_way(page: Page, context: object, serve, fallback: bool) -> None:
    if fallback:
        context.add_init_script("delete window.ContentVisibilityAutoStateChangeEvent")  # type: ignore[attr-defined]
    generated = generate(cells=CELLS)
    server = serve("edit", to_percent(generated))
    open_notebook(page, server)
    assert page.evaluate("'ContentVisibilityAutoStateChangeEvent' in window") is not fallback
    expect(cells(page)).to_have_count(CELLS)
    code = [i for i, c in enumerate(generated) if c.kind == "code"]
    first, last = code[0], code[-1]
    expect(cell(page, first).locator(".cm-content")).to_have_text(generated[first].code.replace("\n", ""))
    expect(cell(page, last).locator(".cm-editor")).to_have_count(0)
    expect(cell(page, last).locator(".cell-code-static-text")).to_have_text(generated[last].code)
    cell(page, last).scroll_into_view_if_needed()
    expect(cell(page, last).locator(".cm-content")).to_have_text(generated[last].code.replace("\n", ""))
    expect(cell(page, last).locator(".cell-code-static")).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_big_notebook_has_one_active_cell(page: Page, serve) -> None:
    server = serve("edit", to_percent(generate(cells=CELLS)))
    open_notebook(page, server)
    expect(cells(page)).to_have_count(CELLS)
    assert page.evaluate(ACTIVE) == {"active": [0], "focusable": [0]}
    cell(page, 2).focus()
    assert page.evaluate(ACTIVE) == {"active": [2], "focusable": [2]}
    for _ in range(3):
        page.keyboard.press("j")
    expect(cell(page, 5)).to_be_focused()
    assert page.evaluate(ACTIVE) == {"active": [5], "focusable": [5]}
    page.keyboard.press("k")
    expect(cell(page, 4)).to_be_focused()
    assert page.evaluate(ACTIVE) == {"active": [4], "focusable": [4]}
    page.keyboard.press("b")  # a new cell below the active one becomes active
    expect(cells(page)).to_have_count(CELLS + 1)
    assert page.evaluate(ACTIVE) == {"active": [5], "focusable": [5]}
