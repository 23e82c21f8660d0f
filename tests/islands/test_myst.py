"""Acceptance: MyST Markdown islands (```` ```{amphi} ```` fences) in a Sphinx site built with
MyST-Parser by a real ``Sphinx`` application, served on 127.0.0.1 and run in headless Chromium:
options as ``:option:`` lines (``:id:``, ``:hide-code:``, ``:no-edit:``, ``:autorun:``) and as a
YAML block, one kernel for the page, an island left for the reader to run, and virtual files
whose type would run as a document kept inert."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.islands import ISLANDS_SCRIPT, LOADER_NAME, RUNTIME_DIR
from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR
from tests.islands.conftest import sphinx_build

pytest.importorskip("myst_parser", reason="myst-parser is in requirements-dev.txt and the docs extra")

pytestmark = pytest.mark.timeout(600)

BOOT = 120_000
"""Milliseconds allowed for Pyodide to boot and the first run (a loaded machine)."""

PAGE = """\
# MyST islands

Pick a number (the code is hidden):

```{amphi}
:id: setup
:hide-code:

from lifecycle import ui
n = ui.slider(1, 10, value=2, label="n")
n
```

Its cube:

```{amphi}
print("cube:", n.value ** 3)
```

Run on demand only, not editable:

```{amphi}
:autorun: false
:no-edit:

print("on demand:", n.value)
```

Options as YAML, and files a browser would run as a page:

```{amphi}
---
id: files
---
from lifecycle.display import html
from lifecycle.virtual_files import download, publish
svg = '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="10"><rect width="30" height="10" fill="teal"/></svg>'
html(f'<img id="logo" src="{publish(svg.encode(), "logo.svg")}">')
```

```{amphi}
download("<script>document.title = 'owned'</script>", "page.html", label="the page")
```

HTML with a script runs in a sandboxed frame, which gets its files as `data:` URLs:

```{amphi}
import base64
dot = publish(base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="), "dot.png")
html(f'<img id="dot" src="{dot}"><script>document.body.dataset.ran = "yes"</script>')
```

A plain code block stays a code block:

```python
print("not an island")
```
"""


@pytest.fixture(autouse=True)
def _bundle_built() -> None:
    if not (BUNDLE_DIR / ISLANDS_SCRIPT).is_file():
        pytest.fail(f"the web bundle has no {ISLANDS_SCRIPT} ({BUNDLE_DIR}): run `npm ci && npm run build` in web/")


def island(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator(".amphi-island").nth(index)


def build(tmp_path: Path, *, runtime: bool = True) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        'project = "myst"\n'
        'extensions = ["myst_parser", "pyodide_host.islands.sphinx"]\n'
        f"amphi_runtime = {runtime}\n"
    )
    (src / "index.md").write_text(PAGE)
    out = tmp_path / "html"
    warnings = sphinx_build(src, out)
    assert warnings == ""
    return out


def test_myst_fences_become_islands_with_their_options(tmp_path: Path) -> None:
    html = (build(tmp_path, runtime=False) / "index.html").read_text()
    assert html.count('class="amphi-island') == 6
    assert 'data-amphi-cell="setup"><div class="amphi-code" hidden>' in html
    assert 'class="amphi-island amphi-no-edit" data-amphi-cell="island-3" data-amphi-autorun="false"' in html
    assert 'data-amphi-cell="files"' in html
    assert ":hide-code:" not in html and "id: files" not in html  # options are not code
    assert html.count('<script type="module" data-amphi-islands src="_amphi/islands.js"></script>') == 1
    assert '<div class="highlight-python notranslate"><div class="highlight"><pre><span></span><span class="nb">print</span><span class="p">(</span><span class="s2">"not an island' in html


def test_invalid_autorun_value_is_a_warning_at_the_fence(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser", "pyodide_host.islands.sphinx"]\namphi_runtime = False\n')
    (src / "index.md").write_text("# T\n\n```{amphi}\n:autorun: maybe\n\nx = 1\n```\n")
    warnings = sphinx_build(src, tmp_path / "html")
    assert "index.md:4" in warnings and "autorun must be true or false, not 'maybe'" in warnings


def test_myst_site_runs_in_chromium(page: Page, tmp_path: Path, static_server) -> None:
    out = build(tmp_path)
    assert (out / RUNTIME_DIR / LOADER_NAME).is_file()
    server = static_server(out)
    page.goto(f"{server.url}index.html")
    expect(page.locator(".amphi-island")).to_have_count(6)

    # Every island but the on-demand one runs, in one kernel.
    for i in (0, 1, 3, 4, 5):
        expect(island(page, i)).to_have_attribute("data-status", "idle", timeout=BOOT)
    expect(island(page, 0).locator(".amphi-code")).to_be_hidden()
    expect(island(page, 0).locator("amphi-ui input[type=range]")).to_be_visible()
    expect(island(page, 1).locator(".amphi-output")).to_have_text("cube: 8")

    # The on-demand island waits for its Run button, and offers no Edit.
    on_demand = island(page, 2)
    expect(on_demand.locator(".amphi-output")).to_have_text("")
    assert on_demand.get_attribute("data-status") == "waiting"
    expect(on_demand.get_by_role("button", name="Edit")).to_have_count(0)
    on_demand.get_by_role("button", name="Run").click()
    expect(on_demand.locator(".amphi-output")).to_have_text("on demand: 2", timeout=60_000)

    # The slider re-runs both readers.
    island(page, 0).locator("amphi-ui input[type=range]").fill("5")
    expect(island(page, 1).locator(".amphi-output")).to_have_text("cube: 125", timeout=60_000)
    expect(on_demand.locator(".amphi-output")).to_have_text("on demand: 5", timeout=60_000)

    # SVG is shown through a data: URL (an opaque origin if opened), HTML offered as text.
    logo = island(page, 3).locator("#logo")
    assert (logo.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    assert logo.evaluate("img => img.decode().then(() => img.naturalWidth, () => 0)") == 30
    link = island(page, 4).get_by_role("link", name="the page")
    href = link.get_attribute("href") or ""
    assert href.startswith("blob:")
    kind, text = page.evaluate("url => fetch(url).then(async r => [r.headers.get('content-type'), await r.text()])", href)
    assert kind == "text/plain;charset=utf-8" and text == "<script>document.title = 'owned'</script>"
    with page.expect_download(timeout=30_000) as info:
        link.click()
    assert info.value.suggested_filename == "page.html"
    frame = island(page, 5).frame_locator("iframe.html-frame")
    expect(frame.locator("body")).to_have_attribute("data-ran", "yes")
    dot = frame.locator("#dot")
    assert (dot.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert dot.evaluate("img => img.decode().then(() => img.naturalWidth, () => 0)") == 1

    assert [r for r in server.requests if "@file" in r] == []
    assert sum(1 for r in server.requests if r.startswith(f"/{RUNTIME_DIR}/worker.js")) == 1  # one runtime
    assert page.foreign == []
    assert page.js_errors == []
