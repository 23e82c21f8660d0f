"""The kernel's UI elements as live custom elements."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, open_notebook, outputs, set_code, wait_idle

SLIDER_NOTEBOOK = """\
# %%
from lifecycle import ui
slider = ui.slider(0, 100, value=10, label="Amount")
slider

# %%
print("doubled", slider.value * 2)
"""


def test_dragging_a_slider_reruns_the_dependent_cell_and_ends_on_the_last_value(page: Page, serve) -> None:
    server = serve("edit", SLIDER_NOTEBOOK)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_have_text("doubled 20")
    slider = cell(page, 0).locator("amphi-ui input[type=range]")
    expect(slider).to_have_value("10")
    page.evaluate(
        """() => { window.__inputs = 0;
        document.querySelector('amphi-ui input[type=range]').addEventListener('input', () => window.__inputs++); }"""
    )
    box = slider.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    for step in range(1, 41):
        page.mouse.move(box["x"] + 4 + (box["width"] * 0.8) * step / 40, y)
    page.mouse.up()
    final = int(slider.input_value())
    assert final > 60
    expect(cell(page, 0).locator(".ui-value")).to_have_text(str(final))
    expect(outputs(page, 1)).to_have_text(f"doubled {final * 2}", timeout=20000)
    wait_idle(page)
    inputs = page.evaluate("window.__inputs")
    sent = page.evaluate("window.amphi.session.ui.sent")
    assert 1 <= sent <= inputs, (sent, inputs)
    # The kernel ended on the last value sent.
    set_code(page, 1, "print('kernel has', slider.value)")
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 1)).to_have_text(f"kernel has {final}")

    # Input events within one animation frame become one update-ui-element.
    sent_before = page.evaluate("window.amphi.session.ui.sent")
    page.evaluate(
        """() => { const input = document.querySelector('amphi-ui input[type=range]');
        for (let v = 30; v <= 50; v++) { input.value = String(v); input.dispatchEvent(new Event('input')); } }"""
    )
    expect(outputs(page, 1)).to_have_text("kernel has 50")
    assert page.evaluate("window.amphi.session.ui.sent") == sent_before + 1

    # Keyboard: the slider is a native range input.
    slider.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(outputs(page, 1)).to_have_text("kernel has 48")


UI_NOTEBOOK = """\
# %%
from lifecycle import ui
from lifecycle.display import display
check = ui.checkbox(label="Enabled")
choice = ui.dropdown(["red", "green", "blue"], value="red", label="Colour")
name = ui.text(placeholder="your name", label="Name")
clicks = ui.button(label="Click me")
rows = ui.table([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "z"}], label="Rows")
form = ui.form({"n": ui.number(0, 10, value=1, label="N"), "t": ui.text(label="T")}, submit_label="Apply")
display(check, choice, name, clicks, rows, form)

# %%
print(check.value, choice.value, repr(name.value), clicks.value, [r["a"] for r in rows.value], form.value)

# %%
import time
for step in ui.progress(range(5), label="Work"):
    time.sleep(0.05)
"""


def test_ui_elements_send_their_values(page: Page, serve) -> None:
    server = serve("edit", UI_NOTEBOOK)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    out = outputs(page, 1)
    expect(out).to_have_text("False red '' 0 [] None")
    ui = cell(page, 0)
    ui.get_by_label("Enabled").check()
    expect(out).to_have_text("True red '' 0 [] None")
    ui.get_by_label("Colour").select_option(label="blue")
    expect(out).to_have_text("True blue '' 0 [] None")
    ui.get_by_label("Name").fill("Ada")
    expect(out).to_have_text("True blue 'Ada' 0 [] None")
    ui.get_by_role("button", name="Click me").click()
    expect(out).to_have_text("True blue 'Ada' 1 [] None")
    ui.get_by_label("select row 2").check()
    ui.get_by_label("select row 3").check()
    expect(out).to_have_text("True blue 'Ada' 1 [2, 3] None")
    ui.get_by_label("N", exact=True).fill("7")
    ui.get_by_label("T", exact=True).fill("go")
    expect(out).to_have_text("True blue 'Ada' 1 [2, 3] None")  # nothing until submitted
    ui.get_by_role("button", name="Apply").click()
    expect(out).to_have_text("True blue 'Ada' 1 [2, 3] {'n': 7, 't': 'go'}")
    progress = cell(page, 2).locator("amphi-ui progress")
    expect(progress).to_have_attribute("max", "5")
    expect(cell(page, 2).locator(".ui-value")).to_have_text("5 / 5")
    wait_idle(page)
