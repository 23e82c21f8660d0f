"""A published anywidget widget package from PyPI (``wigglystuff``'s ``Slider2D``, pinned in
requirements-dev.txt) in edit view (kernel subprocess): dragging it in the page re-runs the
cell that reads it.  The same widget on an exported site: tests/browser/test_widgets_site.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, open_notebook, outputs, wait_idle

NOTEBOOK = """\
# %%
from wigglystuff import Slider2D

slider = Slider2D(x=0.5, y=0.5, x_bounds=(0.0, 1.0), y_bounds=(0.0, 1.0), width=200, height=200)
slider

# %%
round(slider.x, 2), round(slider.y, 2)
"""


def drag_slider(page: Page, canvas_cell: int, dx: float, dy: float) -> None:
    """Press on the 2D slider's canvas at (centre + (dx, dy)) pixels and release."""
    canvas = cell(page, canvas_cell).locator("canvas")
    expect(canvas).to_be_visible(timeout=30_000)
    box = canvas.bounding_box()
    assert box is not None
    # The canvas has a 1px border: its content box starts 1px in.
    x = box["x"] + 1 + 100 + dx
    y = box["y"] + 1 + 100 + dy
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()


@pytest.mark.timeout(180)
def test_wigglystuff_slider_drives_a_dependent_cell_in_edit_view(page: Page, serve) -> None:
    server = serve("edit", NOTEBOOK)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_have_text("(0.5, 0.5)", timeout=30_000)
    wait_idle(page)
    expect(cell(page, 0).locator("#sliderValues")).to_have_text("X: 0.50, Y: 0.50")
    # Radius 80 px (200 px canvas): 40 px right and 40 px up is x = y = 0.75.
    drag_slider(page, 0, 40, -40)
    expect(cell(page, 0).locator("#sliderValues")).to_have_text("X: 0.75, Y: 0.75")
    expect(outputs(page, 1)).to_have_text("(0.75, 0.75)", timeout=30_000)
    wait_idle(page)
    drag_slider(page, 0, -80, 80)
    expect(outputs(page, 1)).to_have_text("(0.0, 0.0)", timeout=30_000)
    assert page.js_errors == []  # type: ignore[attr-defined]
