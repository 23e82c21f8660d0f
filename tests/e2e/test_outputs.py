"""Renderers by MIME type, tracebacks linking to cells, the notebook view's screenshots."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import cell, no_horizontal_overflow, open_notebook, outputs, shot, wait_idle

SHOWCASE = '''\
# %% [markdown]
# # Rich outputs
# Every renderer of the page, **one cell each**. Python blocks are highlighted:
#
# ```python
# def area(r):
#     return 3.14159 * r ** 2
# ```

# %%
import struct
import zlib

from lifecycle import ui
from lifecycle.display import display, html, image, md


def png(width, height):
    """A small gradient PNG, made with the standard library."""
    rows = b"".join(
        b"\\x00" + bytes(v for x in range(width) for v in (x * 255 // width, 90, 255 - y * 255 // height))
        for y in range(height)
    )
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


display(image(png(160, 40), alt="gradient"))

# %%
display(md("Markdown output with a [link](https://example.org) and `code`."))
display(html("<table><tr><th>name</th><th>value</th></tr><tr><td>alpha</td><td>1</td></tr></table>"))
display(html('<p id="unsafe" onclick="window.__xss=1">inline html, <a id="js" href="javascript:window.__xss=1">link</a> sanitised</p>'))
display(html('<div id="scripted">scripted</div><script>document.getElementById("scripted").textContent = "ran in a sandbox"</script>'))

# %%
class Config:
    def _repr_json_(self):
        return {"name": "demo", "sizes": [1, 2, 3], "nested": {"deep": {"deeper": True}}}


Config()

# %%
image('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" rx="8" fill="#2f6fdb"/><text x="60" y="26" font-size="16" text-anchor="middle" fill="white">SVG</text></svg>')

# %%
import sys
print("\\x1b[1;32mgreen bold\\x1b[0m plain \\x1b[38;5;208morange\\x1b[0m")
print("to stderr", file=sys.stderr)
print("loading 10%", end="", flush=True)
print("\\rloading 100%")
for i in range(60):
    print("line", i)

# %%
level = ui.slider(0, 10, value=4, label="Level")
bar = ui.progress(10, label="Progress")
bar.update(7)
display(level, bar)

# %%
def divide(a, b):
    return a / b


divide(level.value, 0)
'''


def test_renderers_and_notebook_screenshots(page: Page, serve) -> None:
    server = serve("edit", SHOWCASE)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    wait_idle(page)
    # Markdown cell rendered, Python highlighted.
    expect(cell(page, 0).locator(".cell-markdown h1")).to_have_text("Rich outputs")
    expect(cell(page, 0).locator(".cell-markdown pre code .tok-keyword").first).to_have_text("def")
    # image/png bytes -> Blob URL.
    img = outputs(page, 1).locator("img")
    expect(img).to_have_attribute("src", re.compile(r"^blob:"))
    expect(img).to_have_attribute("alt", "gradient")
    assert img.evaluate("i => i.complete && i.naturalWidth") == 160
    # Markdown, HTML table, sanitised HTML, scripted HTML sandboxed.
    out2 = outputs(page, 2)
    expect(out2.locator(".markdown-output a")).to_have_attribute("rel", "noopener noreferrer")
    expect(out2.locator("table td").first).to_have_text("alpha")
    expect(out2.locator("#unsafe")).to_have_text("inline html, link sanitised")
    assert out2.locator("#unsafe").get_attribute("onclick") is None
    assert out2.locator("#js").get_attribute("href") is None
    assert page.evaluate("window.__xss") is None
    frame = out2.locator("iframe.html-frame")
    expect(frame).to_have_attribute("sandbox", "allow-scripts allow-popups allow-downloads")
    expect(frame.content_frame.locator("#scripted")).to_have_text("ran in a sandbox")
    # JSON tree: collapsible.
    tree = outputs(page, 3).locator(".json-tree")
    expect(tree).to_contain_text("sizes")
    nested = tree.locator("details").filter(has_text="nested").last
    expect(nested).not_to_have_attribute("open", "")
    nested.locator("summary").first.click()
    expect(tree).to_contain_text("deep")
    # SVG.
    expect(outputs(page, 4).locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
    # ANSI console, stderr, long output collapsed.
    console = outputs(page, 5)
    expect(console.locator(".ansi-bold.ansi-2-fg")).to_have_text("green bold")
    expect(console.locator(".console-output.stderr")).to_have_text("to stderr")
    long_block = console.locator(".console-output.stdout").last
    expect(long_block).to_have_class(re.compile(r"\bcollapsed\b"))
    toggle = long_block.get_by_role("button", name="Show all 61 lines")
    toggle.click()
    expect(long_block).not_to_have_class(re.compile(r"\bcollapsed\b"))
    expect(long_block).to_contain_text("loading 100%")  # the carriage return overwrote the line
    expect(long_block).not_to_contain_text("10%")
    long_block.get_by_role("button", name="Show less").click()
    # UI elements and a progress bar.
    expect(outputs(page, 6).locator("progress")).to_have_attribute("max", "10")
    expect(outputs(page, 6).locator(".ui-value").last).to_have_text("7 / 10")
    # An error whose traceback links to the cells and lines.
    error = outputs(page, 7).locator(".error-output")
    expect(error.locator(".error-head")).to_have_text("ZeroDivisionError: division by zero")
    links = error.locator(".traceback-link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text("cell 8, line 5")
    expect(links.nth(1)).to_have_text("cell 8, line 2")
    links.nth(1).click()
    editor = cell(page, 7).locator(".cm-content")
    expect(editor).to_be_focused()
    expect(cell(page, 7).locator(".cm-activeLine")).to_have_text("    return a / b")
    page.keyboard.press("Escape")
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "notebook-view")
    page.set_viewport_size({"width": 400, "height": 900})
    no_horizontal_overflow(page)
    shot(page, "notebook-view-400px")
    assert page.js_errors == []
