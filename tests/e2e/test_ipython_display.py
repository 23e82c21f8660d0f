"""IPython's display API in the page: updated displays, clear_output, JavaScript never run,
IFrames sandboxed, an exception in a repr method shown without failing the cell, and the same
state after a reload (the server's replay)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, open_notebook, outputs, shot, wait_idle

pytest.importorskip("IPython")

NOTEBOOK = '''\
# %%
from IPython.display import display, update_display, clear_output, Markdown, Javascript, IFrame
status = display(Markdown("**before**"), display_id="status")
display(Markdown("not updated"))

# %%
update_display(Markdown("**after**"), display_id="status")
display(Javascript("window.__js_ran = 1"))
display(IFrame("https://example.org/embedded", 320, 120))

# %%
print("printed, then cleared")
for i in range(3):
    clear_output(wait=True)
    print(f"frame {i}")

# %%
class Bad:
    def _repr_html_(self):
        raise RuntimeError("no html")
    def __repr__(self):
        return "Bad()"
Bad()
'''


def check(page: Page) -> None:
    first = outputs(page, 0)
    expect(first.locator(".markdown-output strong")).to_have_text("after")  # updated in place
    expect(first).not_to_contain_text("before")
    expect(first.locator(".output")).to_have_count(2)
    expect(first.locator(".output").nth(1)).to_have_text("not updated")
    second = outputs(page, 1)
    expect(second).to_contain_text("<IPython.core.display.Javascript object>")  # shown, not run
    frame = second.locator("iframe")
    expect(frame).to_have_attribute("src", "https://example.org/embedded")
    expect(frame).to_have_attribute("sandbox", "allow-scripts allow-popups allow-forms allow-presentation")
    expect(outputs(page, 2)).to_have_text("frame 2")
    error = outputs(page, 3).locator(".error-output")
    expect(error.locator(".error-head")).to_have_text("RuntimeError: no html")
    expect(outputs(page, 3).locator(".output")).to_have_text("Bad()")
    expect(cell(page, 3)).to_have_attribute("data-status", "done")  # the cell did not fail
    assert page.evaluate("window.__js_ran") is None


def test_ipython_display_updates_clears_and_sandboxing(page: Page, serve) -> None:
    server = serve("edit", NOTEBOOK)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    wait_idle(page)
    check(page)
    shot(page, "ipython-display")
    page.reload()
    page.wait_for_selector(".notebook-view")
    wait_idle(page)
    check(page)  # a new tab gets the same state from the server's replay
    assert page.js_errors == []
