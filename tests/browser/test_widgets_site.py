"""Real widgets from PyPI on an exported site: ``anywidget`` and ``wigglystuff`` (its 2D
slider) come from the site's own index (hash-pinned wheels, :mod:`pyodide_host.export.pinned`),
installed when the cell imports them; dragging the widget in Chromium re-runs the cell that
reads it.  The same widget in edit view: tests/e2e/test_wigglystuff.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pyodide_host.build.common import normalize
from pyodide_host.build.wheels import pinned_versions
from pyodide_host.export.pinned import PINNED_WHEELS, pinned_wheel, split_pinned
from tests.browser.conftest import export
from tests.browser.test_static_site import open_site, wait_idle
from tests.e2e.test_wigglystuff import NOTEBOOK


@pytest.fixture(scope="module")
def widget_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wigglystuff notebook exported in run mode; its imports are detected."""
    base = tmp_path_factory.mktemp("widgets")
    notebook = base / "sliders.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    # No memory snapshot: it would hold the widget packages imported already, and the test
    # watches them installed from the site's index.
    return export(notebook, base / "site", "--no-memory-snapshot")


def test_the_pins_match_requirements_dev_and_serve_plain_requirements() -> None:
    versions = pinned_versions([p.name for p in PINNED_WHEELS])
    assert {p.name: p.version for p in PINNED_WHEELS} == versions
    assert all(p.filename.endswith("-none-any.whl") and p.url.endswith("/" + p.filename) for p in PINNED_WHEELS)
    assert split_pinned(["wigglystuff", "anywidget>=0.9", "anywidget==0.10.0", "tabulate", "ipython[all]"]) == (
        ["wigglystuff", "anywidget"],
        ["anywidget==0.10.0", "tabulate", "ipython[all]"],
    )
    assert pinned_wheel("Typing_Extensions") is not None and pinned_wheel("numpy") is None


def test_the_site_index_carries_the_pinned_widget_wheels(widget_site: Path) -> None:
    lock = json.loads((widget_site / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    for project in ("anywidget", "wigglystuff", "drawdata", "ipywidgets", "traitlets", "comm", "psygnal", "ipython"):
        pin = pinned_wheel(project)
        assert pin is not None
        entry = lock[normalize(project)]
        assert entry["version"] == pin.version
        assert (widget_site / "pyodide" / entry["file_name"]).is_file()
        page = (widget_site / "simple" / normalize(project) / "index.html").read_text()
        assert re.search(r'href="\.\./\.\./pyodide/[^"]+#sha256=' + entry["sha256"], page)
    # Dependencies are evaluated for Pyodide: IPython's terminal-only ones are not shipped.
    assert "pexpect" not in lock and "psutil" not in lock
    assert "wigglystuff" in lock["wigglystuff"]["imports"] and "anywidget" in lock["wigglystuff"]["depends"]


@pytest.mark.timeout(300)
def test_a_wigglystuff_slider_from_the_local_index_drives_a_dependent_cell(
    widget_site: Path, static_server, open_page
) -> None:
    server = static_server(widget_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    cells = page.locator("section.app-cell.code")
    readout = cells.nth(1).locator(".output").last
    expect(readout).to_have_text("(0.5, 0.5)", timeout=180_000)
    wait_idle(page)
    canvas = cells.nth(0).locator("canvas")
    expect(canvas).to_be_visible(timeout=60_000)
    expect(cells.nth(0).locator("#sliderValues")).to_have_text("X: 0.50, Y: 0.50")
    box = canvas.bounding_box()
    assert box is not None
    # 200 px canvas with a 1 px border, radius 80 px: 40 px right and 40 px up is (0.75, 0.75).
    page.mouse.move(box["x"] + 1 + 140, box["y"] + 1 + 60)
    page.mouse.down()
    page.mouse.up()
    expect(cells.nth(0).locator("#sliderValues")).to_have_text("X: 0.75, Y: 0.75")
    expect(readout).to_have_text("(0.75, 0.75)", timeout=60_000)
    wait_idle(page)
    # The wheels came from the site itself (installed on import), nothing from elsewhere.
    fetched = {p.rsplit("/", 1)[-1].split("-")[0].lower() for p in server.requests if p.startswith("/pyodide/") and p.endswith(".whl")}
    assert {"wigglystuff", "anywidget", "ipywidgets", "drawdata"} <= fetched, fetched
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]
