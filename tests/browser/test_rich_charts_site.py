"""Rich charts in an exported site: ``amphi export html-wasm`` of a notebook whose cells show a
Vega-Lite and a Plotly mimebundle (pure-Python objects with ``_repr_mimebundle_``, so the site
ships no extra wheel) and Markdown math, served on 127.0.0.1 and drawn by Pyodide's kernel in
Chromium, every library loaded from the site's own chunks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import export

BOOT = 120_000
"""Milliseconds allowed for Pyodide to boot and the notebook to run (a loaded 2-core machine)."""

NOTEBOOK = r'''# %%
class Chart:
    """A chart as plotting libraries hand it to Jupyter: a mimebundle."""

    def __init__(self, mimetype, spec):
        self.mimetype, self.spec = mimetype, spec

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {self.mimetype: self.spec, "text/plain": f"<{self.mimetype} chart>"}

# %%
Chart("application/vnd.vegalite.v5+json", {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"day": d, "visits": v} for d, v in zip("MTWTF", [3, 8, 5, 9, 4])]},
    "mark": "bar",
    "encoding": {"x": {"field": "day", "type": "ordinal", "sort": None}, "y": {"field": "visits", "type": "quantitative"}},
})

# %%
Chart("application/vnd.plotly.v1+json", {
    "data": [{"type": "scatter", "mode": "lines+markers", "x": [1, 2, 3, 4], "y": [2, 6, 3, 7]}],
    "layout": {"title": {"text": "visits"}, "height": 320},
})

# %%
from lifecycle.display import md

md(r"Energy: $E = mc^2$")
'''

CHUNK = re.compile(r"/chunks/(vega|plotly|katex)-[A-Z0-9]+\.js$")


@pytest.fixture(scope="module")
def charts_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("charts")
    notebook = base / "charts.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    return export(notebook, base / "site", "--no-detect-imports")


def test_the_site_ships_the_chart_and_math_chunks(charts_site: Path) -> None:
    chunks = {p.name for p in (charts_site / "chunks").iterdir()}
    for prefix in ("vega-", "plotly-", "katex-"):
        assert any(n.startswith(prefix) and n.endswith(".js") for n in chunks), prefix
    assert any(n.startswith("katex-") and n.endswith(".css") for n in chunks)
    assert any(n.startswith("KaTeX_Main-Regular-") and n.endswith(".woff2") for n in chunks)


@pytest.mark.timeout(300)
def test_an_exported_site_draws_vega_lite_plotly_and_katex(charts_site: Path, static_server, open_page) -> None:
    server = static_server(charts_site, isolation_headers=True)
    page: Page = open_page()
    outside: list[str] = []

    def refuse(route) -> None:  # type: ignore[no-untyped-def]
        outside.append(route.request.url)
        route.abort()

    page.context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)"), refuse)
    page.goto(server.url)
    expect(page.locator(".kernel-status")).to_have_attribute("data-state", "idle", timeout=BOOT)
    cells = page.locator("section.app-cell.code")
    bars = cells.nth(1).locator(".vega-lite-output svg .mark-rect path")
    expect(bars).to_have_count(5, timeout=60_000)
    figure = cells.nth(2).locator(".plotly-output .plot-container svg.main-svg")
    expect(figure.locator(".scatterlayer .trace")).to_have_count(1, timeout=60_000)
    expect(figure.locator(".scatterlayer .trace .point")).to_have_count(4)
    expect(cells.nth(3).locator(".markdown-output .katex")).to_have_count(1)
    loaded = {m.group(1) for path in server.requests if (m := CHUNK.search(path))}
    assert loaded == {"vega", "plotly", "katex"}
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]
