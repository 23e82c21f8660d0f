"""Browser edit mode on an exported site: the downloaded ``.py`` is the file itself when nothing
changed (shebang, module docstring, PEP 723 header, comments and a hand-written layout kept
byte for byte) and differs only in the edited cell otherwise; ``input()`` replies of any size
up to the 16 MiB limit arrive whole through the chunked stdin SharedArrayBuffer, and a longer
one is refused with a clear error (never truncated)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.jsbridge import STDIN_LIMIT
from tests.browser.conftest import REPO, export
from tests.browser.test_static_site import edit_cell, open_site, run_edit_cell, wait_idle

NOTEBOOK = '''#!/usr/bin/env python3
"""A notebook written by hand: its download must keep this docstring."""
# /// script
# requires-python = ">=3.12"
# dependencies = []
# ///
# A comment above the first cell.

# %% greet
# a comment inside a cell
name = "world"


# %% ask
import hashlib

reply = input("Paste: ")
data = reply.encode()
print(len(data), hashlib.sha256(data).hexdigest())
#%% [markdown]
# Some *markdown*
# %%
len(name)'''
"""Hand-written layout: two blank lines after a cell, none before ``#%%``, no final newline."""

ASK = 1
LAST = 3
UNIT = "aé😀"
"""7 UTF-8 bytes (1 + 2 + 4): chunks of the reply split code points."""


def reply_text(size: int) -> str:
    """A reply of exactly ``size`` UTF-8 bytes (what the page builds with the same rule)."""
    count, rest = divmod(size, len(UNIT.encode()))
    return "a" * rest + UNIT * count


@pytest.fixture(scope="module")
def edit_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("edit-files")
    notebook = base / "handmade.py"
    notebook.write_bytes(NOTEBOOK.encode())
    site = export(notebook, base / "site", "--mode", "edit", "--no-detect-imports")
    index = site / "index.html"
    # The cells run one by one here (the `ask` cell waits for input()).
    index.write_text(index.read_text(encoding="utf-8").replace('"autorun": true', '"autorun": false'), encoding="utf-8")
    return site


def download(page: Page, target: Path) -> bytes:
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="Save").click()
    assert info.value.suggested_filename == "handmade.py"
    info.value.save_as(target)
    return target.read_bytes()


@pytest.mark.timeout(240)
def test_download_round_trips_the_file_and_changes_only_the_edited_cell(
    edit_site: Path, static_server, open_page, tmp_path: Path
) -> None:
    assert (edit_site / "handmade.py").read_bytes() == NOTEBOOK.encode()
    server = static_server(edit_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    page.wait_for_selector(".notebook-view")
    wait_idle(page)
    assert download(page, tmp_path / "unchanged.py") == NOTEBOOK.encode()
    # Edit the last cell: only its text changes (written as the format writes a cell).
    last = edit_cell(page, LAST)
    last.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text("len(name) * 2")
    run_edit_cell(page, 0)
    wait_idle(page)
    run_edit_cell(page, LAST)
    expect(last.locator(".outputs .output").last).to_have_text("10", timeout=60_000)
    wait_idle(page)
    edited = download(page, tmp_path / "edited.py").decode()
    assert edited == NOTEBOOK.removesuffix("len(name)") + "len(name) * 2\n"
    # Edit the first cell too: the header, the untouched cells and their layout stay.
    first = edit_cell(page, 0)
    first.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text('name = "browser"')
    twice = download(page, tmp_path / "twice.py").decode()
    head, _, rest = NOTEBOOK.partition("# %% greet\n")
    untouched = rest[rest.index("# %% ask\n") : rest.index("# %%\nlen(name)")]
    assert twice == head + '# %% greet\nname = "browser"\n\n' + untouched + "# %%\nlen(name) * 2\n"
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


BUILD_REPLY = """([size, unit]) => {
  const unitBytes = new TextEncoder().encode(unit).length;
  return "a".repeat(size % unitBytes) + unit.repeat(Math.floor(size / unitBytes));
}"""


def _answer(page: Page, size: int) -> None:
    """Run the `ask` cell and answer with a reply of ``size`` bytes.  Small replies are typed
    into the prompt and sent with Enter; megabytes in a text field would only measure the
    browser's text layout, so those are handed to what the prompt's submit calls
    (``session.replyInput``): the same path from there on."""
    ask = edit_cell(page, ASK)
    run_edit_cell(page, ASK)
    field = ask.locator(".input-prompt input")
    expect(field).to_be_visible(timeout=60_000)
    if size <= 1024:
        field.fill(page.evaluate(f"({BUILD_REPLY})([{size}, {UNIT!r}])"))
        field.press("Enter")
        return
    cell_id = ask.get_attribute("data-cell-id")
    page.evaluate(
        f"([id, size, unit]) => window.amphi.session.replyInput(id, ({BUILD_REPLY})([size, unit]))",
        [cell_id, size, UNIT],
    )


@pytest.mark.timeout(300)
def test_input_replies_up_to_the_limit_arrive_whole_and_longer_ones_fail_clearly(
    edit_site: Path, static_server, open_page
) -> None:
    assert STDIN_LIMIT == 16 * 1024 * 1024
    contract = (REPO / "web" / "src" / "transport" / "worker-contract.ts").read_text()
    assert "export const STDIN_LIMIT = 16 * 1024 * 1024;" in contract
    server = static_server(edit_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    assert page.evaluate("crossOriginIsolated") is True
    ask = edit_cell(page, ASK)
    for size in (5, 3 * 1024 * 1024 + 3, STDIN_LIMIT):  # one chunk, a few, the limit (16 chunks)
        _answer(page, size)
        data = reply_text(size).encode()
        assert len(data) == size
        expected = f"{size} {hashlib.sha256(data).hexdigest()}"
        expect(ask.locator(".outputs")).to_contain_text(expected, timeout=120_000)
        wait_idle(page, 120_000)
    # One byte over the limit: a clear error in the cell, nothing truncated.
    _answer(page, STDIN_LIMIT + 1)
    error = ask.locator(".error-output")
    expect(error).to_contain_text("InputTooLargeError", timeout=60_000)
    expect(error).to_contain_text(f"{STDIN_LIMIT + 1:,} bytes")
    expect(error).to_contain_text("16 MiB")
    wait_idle(page)
    # The kernel still answers input() afterwards.
    _answer(page, 2)
    expect(ask.locator(".outputs")).to_contain_text(f"2 {hashlib.sha256(reply_text(2).encode()).hexdigest()}", timeout=60_000)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]
