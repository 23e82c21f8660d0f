"""The notebook editor (``amphi edit``) in a real Chromium."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    cell,
    cells,
    open_notebook,
    outputs,
    run_cell,
    session_eval,
    set_code,
    shot,
    wait_idle,
)


def test_type_code_in_a_new_cell_and_run_it_with_shift_enter(page: Page, serve) -> None:
    server = serve("edit")  # amphi edit creates the notebook: one empty code cell
    open_notebook(page, server)
    page.get_by_role("button", name="Code cell").click()
    expect(cells(page)).to_have_count(2)
    page.keyboard.type("print(6 * 7)")
    page.keyboard.press("Shift+Enter")
    expect(outputs(page, 1)).to_have_text("42")
    # Shift-Enter on the last cell adds a new one and puts the cursor in it.
    expect(cells(page)).to_have_count(3)
    expect(cell(page, 2)).to_have_class(re.compile(r"\bediting\b"))
    expect(cell(page, 1)).to_have_attribute("data-status", "done")
    expect(cell(page, 1).locator(".cell-status")).to_have_text(re.compile(r"\d+(\.\d+)? (ms|s)"))
    assert page.js_errors == []


def test_editing_an_upstream_cell_reruns_the_dependent_cell(page: Page, serve) -> None:
    server = serve("edit", "# %%\na = 1\n\n# %%\nb = a * 10\nb\n\n# %%\nprint('unrelated')\n")
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_have_text("10")
    expect(outputs(page, 2)).to_have_text("unrelated")
    page.evaluate(
        """() => { window.__statuses = [];
        window.amphi.session.on('status', id => window.__statuses.push([id, window.amphi.session.cell(id).status])); }"""
    )
    set_code(page, 0, "a = 5")
    expect(cell(page, 0)).to_have_class(re.compile(r"\bedited\b"))
    page.keyboard.press("Shift+Enter")
    expect(outputs(page, 1)).to_have_text("50")
    wait_idle(page)
    dependent = session_eval(page, "s.cells[1].id")
    unrelated = session_eval(page, "s.cells[2].id")
    statuses = page.evaluate("window.__statuses")
    assert [dependent, "running"] in statuses, statuses
    assert [unrelated, "running"] not in statuses, statuses
    expect(cell(page, 0)).not_to_have_class(re.compile(r"\bedited\b"))


def test_interrupt_an_infinite_loop(page: Page, serve) -> None:
    server = serve("edit", "# %%\nwhile True:\n    pass\n\n# %%\nafter = 1\n")
    open_notebook(page, server)
    run_cell(page, 0)
    expect(cell(page, 0)).to_have_attribute("data-status", "running")
    expect(page.locator(".kernel-status")).to_have_attribute("data-state", "busy")
    time.sleep(0.5)
    expect(cell(page, 0).locator(".cell-status")).to_contain_text("running")
    page.get_by_role("button", name="Interrupt").click()
    expect(outputs(page, 0).locator(".error-output")).to_contain_text("KeyboardInterrupt")
    wait_idle(page)
    # The kernel still works.
    set_code(page, 1, "after = 41 + 1\nafter")
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 1)).to_have_text("42")


def test_restart_clears_outputs_and_state(page: Page, serve) -> None:
    server = serve("edit", "# %%\nsecret = 'kept'\nsecret\n\n# %%\nimport os\nos.getpid()\n")
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 0)).to_have_text("'kept'")
    pid_before = outputs(page, 1).inner_text()
    page.get_by_role("button", name="Restart").click()
    expect(outputs(page, 0)).to_have_text("")
    wait_idle(page, timeout=30000)
    expect(cell(page, 0)).to_have_attribute("data-status", "not-run")
    run_cell(page, 1)
    expect(outputs(page, 1)).not_to_have_text("")
    assert outputs(page, 1).inner_text() != pid_before
    set_code(page, 0, "secret")
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 0).locator(".error-output")).to_contain_text("NameError")


def test_input_prompt_under_the_cell(page: Page, serve) -> None:
    server = serve("edit", "# %%\nname = input('Your name? ')\nprint('hello', name)\n")
    open_notebook(page, server)
    run_cell(page, 0)
    prompt = cell(page, 0).locator(".input-prompt")
    expect(prompt).to_contain_text("Your name?")
    field = prompt.locator("input")
    expect(field).to_be_focused()
    field.type("Ada")
    field.press("Enter")
    expect(prompt).to_have_count(0)
    expect(outputs(page, 0)).to_contain_text("hello Ada")


def test_save_then_reload_keeps_everything(page: Page, serve) -> None:
    server = serve("edit", "# %%\nx = 3\nx * 2\n")
    open_notebook(page, server)
    run_cell(page, 0)
    expect(outputs(page, 0)).to_have_text("6")
    expect(page.locator(".saved-state")).to_have_text("Saved")
    # A markdown cell and a new code cell, run.
    page.get_by_role("button", name="Markdown cell").click()
    page.keyboard.insert_text("## Notes\nThe *answer*.")
    page.keyboard.press("Shift+Enter")
    expect(cell(page, 1).locator(".cell-markdown h2")).to_have_text("Notes")
    set_code(page, 2, "y = x + 100\nprint('y is', y)")
    page.keyboard.press("Control+Enter")
    expect(outputs(page, 2)).to_have_text("y is 103")
    expect(page.locator(".saved-state")).to_have_text("Unsaved changes")
    assert page.title().startswith("●")
    page.keyboard.press("Control+s")
    expect(page.locator(".saved-state")).to_have_text("Saved")
    text = server.notebook.read_text()
    assert "## Notes" in text and "y = x + 100" in text and text.index("x = 3") < text.index("y = x + 100")

    page.reload()
    page.wait_for_selector(".notebook-view")
    wait_idle(page)
    expect(cells(page)).to_have_count(3)
    expect(outputs(page, 0)).to_have_text("6")
    expect(cell(page, 1).locator(".cell-markdown h2")).to_have_text("Notes")
    expect(outputs(page, 2)).to_have_text("y is 103")
    expect(page.locator(".saved-state")).to_have_text("Saved")
    shot(page, "notebook-after-reload")


def test_unsaved_changes_warn_before_leaving(page: Page, serve) -> None:
    server = serve("edit", "# %%\nx = 1\n")
    open_notebook(page, server)
    set_code(page, 0, "x = 2")
    expect(page.locator(".saved-state")).to_have_text("Unsaved changes")
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", on_dialog)
    page.goto("about:blank")
    assert dialogs == ["beforeunload"]


def test_command_mode_keyboard_navigation(page: Page, serve) -> None:
    server = serve("edit", "# %%\nfirst = 1\n\n# %%\nsecond = 2\n")
    open_notebook(page, server)
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Escape")
    expect(cell(page, 0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(cell(page, 1)).to_be_focused()
    page.keyboard.press("b")
    expect(cells(page)).to_have_count(3)
    expect(cell(page, 2)).to_be_focused()
    page.keyboard.press("a")
    expect(cells(page)).to_have_count(4)
    expect(cell(page, 2)).to_be_focused()
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(cells(page)).to_have_count(3)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(cell(page, 0)).to_be_focused()
    page.keyboard.press("Alt+ArrowDown")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("first = 1")
    page.keyboard.press("Enter")
    expect(cell(page, 1).locator(".cm-content")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    expect(cell(page, 1)).to_have_class(re.compile(r"\bmarkdown\b"))
    page.keyboard.press("y")
    expect(cell(page, 1)).to_have_class(re.compile(r"\bcode\b"))
    # Tab moves focus out of a cell in command mode (no keyboard trap).
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement !== document.body")


def test_no_layout_jump_while_a_cell_reruns(page: Page, serve) -> None:
    source = (
        "# %%\nimport time\ndelay = 0\n\n"
        "# %%\ntime.sleep(delay)\nfor i in range(8):\n    print('line', i)\n\n"
        "# %%\nbelow = 1\n"
    )
    server = serve("edit", source)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_contain_text("line 7")
    wait_idle(page)
    top_before = cell(page, 2).bounding_box()["y"]
    set_code(page, 0, "import time\ndelay = 1.5")
    page.keyboard.press("Control+Enter")
    expect(cell(page, 1)).to_have_attribute("data-status", "running")
    expect(outputs(page, 1)).to_have_text("")
    top_during = cell(page, 2).bounding_box()["y"]
    expect(outputs(page, 1)).to_contain_text("line 7")
    wait_idle(page)
    top_after = cell(page, 2).bounding_box()["y"]
    assert top_during == top_before
    assert top_after == top_before
