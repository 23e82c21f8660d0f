"""Acceptance: documentation sites built by a real Sphinx build and a real ``mkdocs build``,
served by a static HTTP server on 127.0.0.1, run their islands in headless Chromium — one
kernel (Pyodide in a Web Worker) per page, blocks sharing state, a slider in one block
re-running the blocks that read it.  Nothing is fetched from outside 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.islands import ISLANDS_SCRIPT, LOADER_NAME, RUNTIME_DIR
from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR
from tests.islands.conftest import sphinx_build

pytestmark = pytest.mark.timeout(600)  # the first runtime write may fill build/pyodide/ caches

BOOT = 120_000
"""Milliseconds allowed for Pyodide to boot and the first run (a loaded machine)."""

ISLANDS_RST = """\
Islands
=======

Pick a number:

.. amphi-cell::
   :id: pick

   from lifecycle import ui
   s = ui.slider(1, 10, value=3, label="n")
   s

Its square, computed by the next block:

.. amphi-cell::

   sq = s.value ** 2
   print(f"square: {sq}")

And a block using names from both:

.. amphi-cell::

   f"total: {sq + s.value}"
"""


@pytest.fixture(autouse=True)
def _bundle_built() -> None:
    if not (BUNDLE_DIR / ISLANDS_SCRIPT).is_file():
        pytest.fail(f"the web bundle has no {ISLANDS_SCRIPT} ({BUNDLE_DIR}): run `npm ci && npm run build` in web/")


def island(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator(".amphi-island").nth(index)


def test_sphinx_site_with_three_islands_sharing_one_kernel(page: Page, tmp_path: Path, static_server) -> None:
    src = tmp_path / "src"
    (src / "guide").mkdir(parents=True)
    (src / "conf.py").write_text(
        'project = "islands"\nextensions = ["pyodide_host.islands.sphinx"]\namphi_prerender = True\n'
    )
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   guide/islands\n")
    (src / "guide" / "islands.rst").write_text(ISLANDS_RST)
    out = tmp_path / "html"
    warnings = sphinx_build(src, out)
    assert warnings == ""
    assert (out / RUNTIME_DIR / LOADER_NAME).is_file()
    html = (out / "guide" / "islands.html").read_text()
    assert html.count('class="amphi-prerendered"') == 3  # build-time outputs in the page

    server = static_server(out)
    page.goto(f"{server.url}guide/islands.html")
    islands = page.locator(".amphi-island")
    expect(islands).to_have_count(3)
    # Pre-rendered outputs are there before Python is (no JavaScript needed to read them).
    expect(island(page, 1).locator(".amphi-output")).to_contain_text("square: 9")

    # All three run in the one kernel; each block's live outputs replace its pre-rendered ones.
    for i in range(3):
        expect(island(page, i)).to_have_attribute("data-status", "idle", timeout=BOOT)
    expect(page.locator(".amphi-prerendered")).to_have_count(0)
    slider = island(page, 0).locator("amphi-ui input[type=range]")
    expect(slider).to_have_value("3")
    expect(island(page, 1).locator(".amphi-output")).to_have_text("square: 9")
    expect(island(page, 2).locator(".amphi-output")).to_have_text("'total: 12'")

    # The slider in block 1 re-runs block 2 and, through `sq`, block 3.
    slider.fill("7")
    expect(island(page, 1).locator(".amphi-output")).to_have_text("square: 49", timeout=60_000)
    expect(island(page, 2).locator(".amphi-output")).to_have_text("'total: 56'", timeout=60_000)
    expect(island(page, 0).locator(".ui-value")).to_have_text("7")

    # Edit + Run on one block: the blocks below that read its names follow.
    island(page, 1).get_by_role("button", name="Edit").click()
    island(page, 1).locator("textarea").fill('sq = s.value * 100\nprint(f"hundredfold: {sq}")')
    island(page, 1).get_by_role("button", name="Run").click()
    expect(island(page, 1).locator(".amphi-output")).to_have_text("hundredfold: 700", timeout=60_000)
    expect(island(page, 2).locator(".amphi-output")).to_have_text("'total: 707'", timeout=60_000)

    # One worker for the page, everything from 127.0.0.1.
    assert page.evaluate("window.amphi.islands.islands.length") == 3
    assert sum(1 for r in server.requests if r.startswith(f"/{RUNTIME_DIR}/worker.js")) == 1
    assert page.foreign == []
    assert page.js_errors == []


MKDOCS_YML = """\
site_name: Islands demo
theme:
  name: mkdocs
  highlightjs: false   # the theme would load highlight.js from a CDN
plugins:
  - search
  - amphi
"""

MKDOCS_PAGE = """\
# Guide

```python {.amphi}
from lifecycle import ui
k = ui.slider(1, 10, value=4, label="k")
k
```

Some text between the blocks.

```amphi
print("double:", k.value * 2)
```
"""


def test_mkdocs_site_runs_its_islands(page: Page, tmp_path: Path, static_server) -> None:
    (tmp_path / "docs" / "guide").mkdir(parents=True)
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [the guide](guide/page.md).\n")
    (tmp_path / "docs" / "guide" / "page.md").write_text(MKDOCS_PAGE)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    html = (site / "guide" / "page" / "index.html").read_text()
    assert '<script type="module" data-amphi-islands src="../../_amphi/islands.js"></script>' in html
    assert "amphi" not in (site / "index.html").read_text()
    assert (site / RUNTIME_DIR / LOADER_NAME).is_file()

    server = static_server(site)
    page.goto(f"{server.url}guide/page/")
    expect(page.locator(".amphi-island")).to_have_count(2)
    expect(island(page, 1)).to_have_attribute("data-status", "idle", timeout=BOOT)
    expect(island(page, 1).locator(".amphi-output")).to_have_text("double: 8")
    island(page, 0).locator("amphi-ui input[type=range]").fill("9")
    expect(island(page, 1).locator(".amphi-output")).to_have_text("double: 18", timeout=60_000)
    assert page.foreign == []
    assert page.js_errors == []
