"""An unmodified anywidget (PyPI anywidget 0.11) rendered by the page's AFM host."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, open_app, open_notebook, outputs, wait_idle

COUNTER = '''\
# %%
import anywidget
import traitlets


class Counter(anywidget.AnyWidget):
    _esm = """
    export default {
      initialize({ model }) {
        window.__inits = (window.__inits || 0) + 1;
        return () => { window.__initCleanups = (window.__initCleanups || 0) + 1; };
      },
      render({ model, el }) {
        const button = document.createElement("button");
        button.className = "counter-button";
        const update = () => { button.textContent = `count is ${model.get("value")}`; };
        button.addEventListener("click", () => {
          model.set("value", model.get("value") + 1);
          model.save_changes();
        });
        model.on("change:value", update);
        const ping = document.createElement("button");
        ping.className = "counter-ping";
        ping.textContent = "ping";
        ping.addEventListener("click", () => model.send({ ping: "hello" }, undefined, [new Uint8Array([1, 2, 3])]));
        const reply = document.createElement("span");
        reply.className = "counter-reply";
        model.on("msg:custom", (msg, buffers) => {
          const bytes = buffers.map((b) => Array.from(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).join(","));
          reply.textContent = `${msg.echo} ${bytes.join(";")}`;
        });
        update();
        el.append(button, ping, reply);
        return () => { window.__renderCleanups = (window.__renderCleanups || 0) + 1; };
      },
    };
    """
    _css = ".counter-button { font-weight: 700; padding: 4px 12px; }"
    value = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_custom)

    def _on_custom(self, widget, content, buffers):
        total = sum(bytes(buffers[0])) if buffers else 0
        self.send({"echo": content["ping"].upper()}, buffers=[bytes([total, 42])])


counter = Counter()
counter

# %%
from lifecycle.display import md
md(f"value is **{counter.value}**")
'''


def test_anywidget_round_trip(page: Page, serve) -> None:
    server = serve("edit", COUNTER)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    button = cell(page, 0).locator(".counter-button")
    expect(button).to_have_text("count is 0", timeout=20000)
    expect(outputs(page, 1)).to_have_text("value is 0")
    assert button.evaluate("b => getComputedStyle(b).fontWeight") == "700"  # _css applied
    # Page -> kernel: a state change re-runs the cell reading the widget.
    button.click()
    expect(button).to_have_text("count is 1")
    expect(outputs(page, 1)).to_have_text("value is 1")
    # Custom messages with binary buffers, both ways.
    cell(page, 0).locator(".counter-ping").click()
    expect(cell(page, 0).locator(".counter-reply")).to_have_text("HELLO 6,42")
    # Kernel -> page: a trait set in Python updates the view.
    page.get_by_role("button", name="Code cell").click()
    page.keyboard.insert_text("counter.value = 10")
    page.keyboard.press("Control+Enter")
    expect(button).to_have_text("count is 10")
    wait_idle(page)
    assert page.evaluate("window.__inits") == 1
    # Re-running the widget's cell replaces the widget (a new model): the old view's and the
    # old model's cleanups run.  The cells reading `counter` re-run too, the last one setting 10.
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    wait_idle(page)
    page.wait_for_function("window.__inits === 2")  # the new view renders asynchronously
    assert page.evaluate("window.__renderCleanups") == 1
    assert page.evaluate("window.__initCleanups") == 1
    expect(cell(page, 0).locator(".counter-button")).to_have_text("count is 10")
    expect(outputs(page, 1)).to_have_text("value is 0")
    assert page.js_errors == []


def test_anywidget_in_the_app_view(page: Page, serve) -> None:
    server = serve("run", COUNTER)
    open_app(page, server)
    button = page.locator(".counter-button")
    expect(button).to_have_text("count is 0", timeout=20000)
    button.click()
    expect(button).to_have_text("count is 1")
    expect(page.locator(".app-cell").nth(1)).to_have_text("value is 1")
    expect(page.locator(".cm-editor")).to_have_count(0)
    assert page.js_errors == []
