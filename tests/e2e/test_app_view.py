"""``amphi run``: the app view shows outputs, hides code and refuses edits."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import no_horizontal_overflow, open_app, session_eval, shot, wait_idle

APP = """\
# %% [markdown]
# # Loan calculator
# Move the slider: the payment below follows.

# %%
from lifecycle import ui
from lifecycle.display import md
amount = ui.slider(1000, 50000, step=1000, value=10000, label="Amount")
years = ui.dropdown(["5", "10", "20"], value="10", label="Years")
ui_row = amount
amount

# %%
years

# %%
import time
SECRET_CODE_MARKER = 1
time.sleep(0.4)
monthly = amount.value * 1.05 / (int(years.value) * 12)
print("this console line is hidden in the app view")
md(f"**Monthly payment:** {monthly:.2f}")
"""


def test_app_view_shows_outputs_hides_code_and_refuses_edits(page: Page, serve) -> None:
    server = serve("run", APP)
    original = server.notebook.read_text()
    open_app(page, server)
    expect(page.locator(".app-cells h1")).to_have_text("Loan calculator")
    result = page.locator(".app-cell").nth(3)
    expect(result).to_have_text("Monthly payment: 87.50")
    # No code anywhere, no console output, no editor.
    body = page.locator("body").inner_text()
    assert "SECRET_CODE_MARKER" not in body and "ui.slider" not in body
    assert "hidden in the app view" not in body
    expect(page.locator(".cm-editor")).to_have_count(0)
    shot(page, "app-view")

    # UI elements are live; a thin progress bar shows while the cells run.
    slider = page.get_by_label("Amount")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".run-progress")).to_have_class("run-progress active")
    expect(result).to_have_text("Monthly payment: 96.25")
    wait_idle(page)
    expect(page.locator(".run-progress")).not_to_have_class("run-progress active")
    page.get_by_label("Years").select_option("20")
    expect(result).to_have_text("Monthly payment: 48.12")

    # Edits are refused by the server; the notebook file is untouched.
    page.evaluate(
        """() => { const s = window.amphi.session;
        window.amphi.transport.send({type: 'execute-cells', cell_ids: [s.cells[3].id], codes: ['monthly = 0']});
        window.amphi.transport.send({type: 'save-notebook', cells: [], request_id: 'x'}); }"""
    )
    expect(page.locator(".toast.error")).to_have_count(2)
    expect(page.locator(".toast.error").first).to_contain_text("not allowed in run mode")
    expect(result).to_have_text("Monthly payment: 48.12")
    assert server.notebook.read_text() == original
    assert session_eval(page, "s.mode") == "run"

    page.set_viewport_size({"width": 400, "height": 800})
    no_horizontal_overflow(page)
    page.locator(".toast-close").first.click()
    page.locator(".toast-close").first.click()
    shot(page, "app-view-400px")
    assert page.js_errors == []


def test_each_app_reader_gets_its_own_kernel(page: Page, context, serve) -> None:
    server = serve("run", APP)
    open_app(page, server)
    other = context.new_page()
    open_app(other, server)
    page.get_by_label("Years").select_option("5")
    expect(page.locator(".app-cell").nth(3)).to_have_text("Monthly payment: 175.00")
    wait_idle(other)
    expect(other.locator(".app-cell").nth(3)).to_have_text("Monthly payment: 87.50")
    other.close()
