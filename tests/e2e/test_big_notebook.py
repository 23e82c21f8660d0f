"""A notebook with more cells than EAGER_LIMIT (web/src/views/lazy-editors.ts): every cell is in
the page, cells far from the viewport show their code as text until they come near (then they
get a CodeMirror editor with that code), clicking such text edits the cell, and running all
still gives every output."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from benchmarks.big_notebook import code_cells, expected_outputs, generate, to_percent
from tests.e2e.helpers import cell, cells, open_notebook, wait_idle

CELLS = 120


@pytest.mark.timeout(240)
def test_big_notebook_makes_editors_lazily_and_runs(page: Page, serve) -> None:
    generated = generate(cells=CELLS)
    server = serve("edit", to_percent(generated))
    open_notebook(page, server)
    expect(cells(page)).to_have_count(CELLS)
    last = cells(page).nth(CELLS - 1)
    source = generated[-1].code
    # Far below the viewport: the code as text, no editor yet.
    expect(last.locator(".cm-editor")).to_have_count(0)
    if generated[-1].kind == "code":
        expect(last.locator(".cell-code-static-text")).to_have_text(source)
    last.scroll_into_view_if_needed()
    if generated[-1].kind == "code":
        expect(last.locator(".cm-content")).to_have_text(source.replace("\n", ""))
    # A code cell still shown as text: clicking it gives a focused editor with its code.
    target = next(i for i in range(CELLS - 1, 0, -1) if generated[i].kind == "code" and i < CELLS - 15)
    page.evaluate("window.scrollTo(0, 0)")
    static = cell(page, target).locator(".cell-code-static")
    if static.count():
        page.evaluate("(i) => document.querySelectorAll('main.cells section.cell')[i].scrollIntoView()", target)
    expect(cell(page, target).locator(".cm-content")).to_have_count(1)
    cell(page, target).locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+End")
    page.keyboard.insert_text("\nedited_marker = 1")
    code = page.evaluate(f"window.amphi.session.cells[{target}].source")
    assert code == generated[target].code + "\nedited_marker = 1"
    page.get_by_role("button", name="Run all").click()
    wait_idle(page, timeout=60000)
    expected = expected_outputs(generated, {generated[target].cell_id: code})
    with_result = [i for i, c in enumerate(generated) if c.kind == "code" and expected[c.cell_id][1] is not None]
    assert code_cells(generated)
    for i in with_result[-3:]:
        text = expected[generated[i].cell_id][1]
        assert text is not None
        expect(cell(page, i).locator(".outputs")).to_contain_text(text.strip("'"))
