"""The edit view keeps its cells in groups (``div.cell-group`` in ``main.cells``, at most
GROUP_MAX = 64 cells each, web/src/views/notebook.ts; in a big notebook each group, not each
cell, has ``content-visibility: auto``).  Adding, moving and deleting cells across group
boundaries keeps the page's cells in the session's order, splits groups that grow too big,
drops empty ones, and a cell moved into a group far down still gets its editor once scrolled
to."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from benchmarks.big_notebook import generate, to_percent
from tests.e2e.helpers import cell, cells, open_notebook, session_eval

CELLS = 90
GROUP_MAX = 64

LAYOUT = """() => ({
  page: [...document.querySelectorAll("main.cells section.cell")].map((c) => c.dataset.cellId),
  session: window.amphi.session.cells.map((c) => c.id),
  groups: [...document.querySelector("main.cells").children].map((g) => [g.className, g.childElementCount]),
  stray: document.querySelectorAll("main.cells > section.cell").length,
})"""


def check_layout(page: Page, count: int) -> list[int]:
    """Assert the page shows the session's cells in order, in non-empty groups of at most
    GROUP_MAX; return the group sizes."""
    layout = page.evaluate(LAYOUT)
    assert layout["page"] == layout["session"]
    assert len(layout["page"]) == count
    assert layout["stray"] == 0
    sizes = [n for name, n in layout["groups"] if name == "cell-group"]
    assert len(sizes) == len(layout["groups"])
    assert all(1 <= n <= GROUP_MAX for n in sizes), sizes
    return sizes


@pytest.mark.timeout(240)
def test_cells_stay_in_order_across_groups(page: Page, serve) -> None:
    generated = generate(cells=CELLS)
    server = serve("edit", to_percent(generated))
    open_notebook(page, server)
    expect(cells(page)).to_have_count(CELLS)
    sizes = check_layout(page, CELLS)
    assert len(sizes) >= 2
    boundary = sizes[0] - 1  # the last cell of the first group
    # Keyboard: move the last cell of the first group down into the second group, and back.
    moved = session_eval(page, f"s.cells[{boundary}].id")
    cell(page, boundary).focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(cell(page, boundary + 1)).to_have_attribute("data-cell-id", moved)
    expect(cell(page, boundary + 1)).to_be_focused()
    check_layout(page, CELLS)
    page.keyboard.press("Alt+ArrowUp")
    expect(cell(page, boundary)).to_have_attribute("data-cell-id", moved)
    check_layout(page, CELLS)
    # Buttons: add a cell below the first cell of the second group.
    cell(page, boundary + 1).get_by_role("button", name="Add cell below").click()
    expect(cells(page)).to_have_count(CELLS + 1)
    check_layout(page, CELLS + 1)
    # Many cells added into one group: it is split, the order is kept.
    session_eval(page, "(() => { for (let i = 0; i < 70; i++) s.addCell(3, 'code', `added_${i} = ${i}`); })()")
    expect(cells(page)).to_have_count(CELLS + 71)
    sizes = check_layout(page, CELLS + 71)
    assert len(sizes) >= 4
    # A cell moved to the end (a group far below the viewport) gets its editor once scrolled to.
    session_eval(page, "(() => { const id = s.cells[3].id; for (let i = 0; i < 200; i++) s.moveCell(id, 1); })()")
    last = cells(page).nth(CELLS + 70)
    expect(last.locator(".cell-code-static-text, .cm-content")).to_have_text("added_69 = 69")
    check_layout(page, CELLS + 71)
    last.scroll_into_view_if_needed()
    expect(last.locator(".cm-content")).to_have_text("added_69 = 69")
    # Every cell of the first group deleted: the empty group goes, the rest keep their order.
    first = check_layout(page, CELLS + 71)[0]
    session_eval(page, f"(() => {{ for (const c of s.cells.slice(0, {first})) s.deleteCell(c.id); }})()")
    expect(cells(page)).to_have_count(CELLS + 71 - first)
    check_layout(page, CELLS + 71 - first)
    # Deleting through the button keeps the next cell active and focused.
    page.evaluate("window.scrollTo(0, 0)")
    second = session_eval(page, "s.cells[1].id")
    cell(page, 0).get_by_role("button", name="Delete cell").click()
    expect(cells(page)).to_have_count(CELLS + 70 - first)
    expect(cell(page, 0)).to_have_attribute("data-cell-id", second)
    expect(cell(page, 0)).to_be_focused()
    check_layout(page, CELLS + 70 - first)
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_small_notebook_is_grouped_with_the_same_gaps(page: Page, serve) -> None:
    generated = generate(cells=6)
    server = serve("edit", to_percent(generated))
    open_notebook(page, server)
    count = len(generated)
    assert count <= GROUP_MAX // 2
    expect(cells(page)).to_have_count(count)
    assert check_layout(page, count) == [count]
    gaps = page.evaluate(
        """() => {
      const r = [...document.querySelectorAll("main.cells section.cell")].map((c) => c.getBoundingClientRect());
      return r.slice(1).map((b, i) => Math.round(b.top - r[i].bottom));
    }"""
    )
    assert gaps == [12] * (count - 1)
    page.get_by_role("button", name="Code cell").click()
    expect(cells(page)).to_have_count(count + 1)
    check_layout(page, count + 1)
    assert page.js_errors == []  # type: ignore[attr-defined]
