"""Editor details: kernel completion, markdown cells, a dead kernel."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, open_notebook, outputs, wait_idle


def test_completion_comes_from_the_kernel(page: Page, serve) -> None:
    server = serve("edit", "# %%\nimport collections\nmy_variable_name = 1\n\n# %%\n")
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    wait_idle(page)
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.type("collections.Ordere")
    popup = page.locator(".cm-tooltip-autocomplete")
    expect(popup).to_contain_text("OrderedDict", timeout=20000)  # the first completion imports jedi
    page.wait_for_timeout(150)  # CodeMirror ignores keys for 75 ms after the popup opens
    page.keyboard.press("Enter")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("collections.OrderedDict")
    page.keyboard.press("Enter")
    page.keyboard.type("my_var")
    page.keyboard.press("Control+Space")
    expect(popup).to_contain_text("my_variable_name")
    page.wait_for_timeout(150)
    page.keyboard.press("Enter")
    expect(cell(page, 1).locator(".cm-content")).to_contain_text("my_variable_name")


def test_markdown_cell_edits_on_double_click(page: Page, serve) -> None:
    server = serve("edit", "# %% [markdown]\n# Hello *world*\n")
    open_notebook(page, server)
    rendered = cell(page, 0).locator(".cell-markdown")
    expect(rendered.locator("em")).to_have_text("world")
    expect(cell(page, 0).locator(".cm-editor")).to_have_count(0)
    rendered.dblclick()
    editor = cell(page, 0).locator(".cm-content")
    expect(editor).to_be_focused()
    expect(editor).to_have_text("Hello *world*")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text("Bye **now**")
    page.keyboard.press("Shift+Enter")
    expect(rendered.locator("strong")).to_have_text("now")
    expect(cell(page, 0).locator(".cm-editor")).to_have_count(0)
    expect(page.locator(".saved-state")).to_have_text("Unsaved changes")


def test_a_dead_kernel_can_be_restarted(page: Page, serve) -> None:
    server = serve("edit", "# %%\nimport os\nos._exit(3)\n\n# %%\n1 + 1\n")
    open_notebook(page, server)
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    status = page.locator(".kernel-status")
    expect(status).to_have_attribute("data-state", "dead", timeout=20000)
    expect(status).to_have_text("Kernel dead")
    banner = page.locator(".banner")
    expect(banner).to_contain_text("The kernel died")
    # Running a cell now is refused; the cell does not stay queued.
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".toast.error")).to_contain_text("the kernel is not running")
    expect(cell(page, 1)).to_have_attribute("data-status", "not-run")
    expect(status).to_have_attribute("data-state", "dead")
    banner.get_by_role("button", name="Restart kernel").click()
    wait_idle(page, timeout=30000)
    expect(banner).to_be_hidden()
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 1)).to_have_text("2")
