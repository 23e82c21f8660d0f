"""Rich charts and math in the page: an Altair chart (Vega-Lite through vega-embed), a Plotly
figure (plotly.js) and LaTeX (KaTeX) drawn in the edit and app views, every library served by
the local server from the bundle's own chunks, and none of them fetched for a notebook that
shows no chart or math."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.helpers import open_app, open_notebook, outputs, shot, wait_idle

CHARTS = r'''# %%
import altair as alt

alt.renderers.enable("mimetype")  # Altair's default renderer writes HTML loading vega from a CDN
sales = alt.Data(values=[{"shop": "north", "n": 3}, {"shop": "south", "n": 7}, {"shop": "east", "n": 5}])
alt.Chart(sales).mark_bar().encode(x="shop:N", y="n:Q")

# %%
import plotly.graph_objects as go
import plotly.io as pio

pio.renderers.default = "plotly_mimetype"  # as Jupyter's kernels get it
fig = go.Figure([go.Scatter(x=[1, 2, 3], y=[4, 1, 6], name="line"), go.Bar(x=[1, 2, 3], y=[2, 3, 1], name="bars")])
fig

# %%
from lifecycle.display import display, md

display({"text/latex": r"The ratio $\frac{a}{b}$ squared", "text/plain": "a/b"}, raw=True)
display(md(r"Inline $x^2$, a price of $5 and $10, and $$\int_0^1 t\,dt = \tfrac{1}{2}$$"))
display({"text/latex": r"$\href{javascript:window.__pwned=1}{click}$", "text/plain": "href"}, raw=True)

# %%
# A bundle with a chart and a PNG: the chart is shown.
display({"application/vnd.vegalite.v5+json": {"mark": "point", "data": {"values": [{"a": 1}, {"a": 2}]},
         "encoding": {"x": {"field": "a", "type": "quantitative"}}},
         "image/png": b"not shown", "text/plain": "chart"}, raw=True)

# %%
# Untrusted specs: data from another origin is not fetched; usermeta cannot turn actions on.
display({"application/vnd.vegalite.v5+json": {"mark": "bar", "data": {"url": "http://203.0.113.9/data.json"},
         "encoding": {"x": {"field": "a", "type": "nominal"}},
         "usermeta": {"embedOptions": {"actions": True, "sourceHeader": "<script>window.__pwned = 1</script>"}}},
         "text/plain": "remote data"}, raw=True)
'''

PLAIN = '''# %% [markdown]
# # No charts here
# Prices: $5 and $10, *emphasis*.

# %%
from lifecycle.display import display, html, md

display(md("**bold** and `code`"))
display(html("<b>html</b>"))
{"a": [1, 2, 3]}
'''

LAZY_CHUNK = re.compile(r"/chunks/(vega|plotly|katex)-[A-Z0-9]+\.(js|css)$|\.woff2$")


def guard(page: Page) -> tuple[list[str], list[str]]:
    """Abort every request not to 127.0.0.1 (recorded in the first list); record every URL
    the page requests (the second)."""
    outside: list[str] = []
    requested: list[str] = []

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        outside.append(route.request.url)
        route.abort()

    page.context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)"), handle)

    def on_request(request: Request) -> None:
        requested.append(request.url)

    page.on("request", on_request)
    return outside, requested


def lazy_chunks(requested: list[str]) -> set[str]:
    return {m.group(1) or "font" for url in requested if (m := LAZY_CHUNK.search(url.split("?", 1)[0]))}


@pytest.mark.timeout(180)
def test_altair_plotly_and_katex_are_drawn_in_the_edit_view(page: Page, serve) -> None:
    server = serve("edit", CHARTS)
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    outside, requested = guard(page)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    wait_idle(page, timeout=60_000)

    # Altair: vega-embed's SVG with one bar per row.
    chart = outputs(page, 0).locator(".vega-lite-output")
    expect(chart.locator("svg .mark-rect path")).to_have_count(3, timeout=30_000)
    expect(chart.locator("svg .mark-text text, svg .role-axis-label text").first).to_be_visible()
    expect(chart.locator("details, .vega-actions")).to_have_count(0)  # no action menu
    # Plotly: its SVG with a scatter trace and a bar trace of three bars.
    figure = outputs(page, 1).locator(".plotly-output .plot-container")
    expect(figure.locator("svg.main-svg .scatterlayer .trace")).to_have_count(1, timeout=30_000)
    expect(figure.locator("svg.main-svg .barlayer .trace .point")).to_have_count(3)
    assert figure.locator("svg.main-svg").first.evaluate("s => s.getBoundingClientRect().width") > 300
    expect(figure.locator(".modebar-btn[data-title*='Chart Studio'], a.modebar-btn[href*='plotly.com']")).to_have_count(0)
    # KaTeX: text/latex and math in Markdown; dollar amounts stay text.
    latex = outputs(page, 2).locator(".latex-output").first
    expect(latex.locator(".katex .mfrac")).to_have_count(1)
    expect(latex).to_contain_text("The ratio")
    markdown = outputs(page, 2).locator(".markdown-output")
    expect(markdown.locator(".katex")).to_have_count(2)
    expect(markdown.locator(".katex-display")).to_have_count(1)
    expect(markdown).to_contain_text("a price of $5 and $10")
    untrusted_tex = outputs(page, 2).locator(".latex-output").nth(1)
    expect(untrusted_tex.locator(".katex")).to_have_count(1)  # typeset, \href refused (trust: false)
    expect(untrusted_tex.locator("a")).to_have_count(0)
    # The KaTeX stylesheet applies (MathML copy visually hidden) and its fonts load from the bundle.
    assert markdown.locator(".katex-mathml").first.evaluate("e => getComputedStyle(e).position") == "absolute"
    assert page.evaluate("document.fonts.ready.then(() => document.fonts.check('16px KaTeX_Main'))")
    # A bundle with a Vega-Lite spec and a PNG shows the chart.
    expect(outputs(page, 3).locator(".vega-lite-output svg .mark-symbol path")).to_have_count(2, timeout=30_000)
    expect(outputs(page, 3).locator("img")).to_have_count(0)

    # Remote data is refused before any request; no action menu despite usermeta.
    untrusted = outputs(page, 4).locator(".vega-lite-output")
    expect(untrusted.locator("svg")).to_have_count(1, timeout=30_000)
    expect(untrusted.locator("details, .vega-actions")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None

    assert lazy_chunks(requested) == {"vega", "plotly", "katex", "font"}
    assert outside == []
    shot(page, "rich-charts")
    assert any("203.0.113.9" in w and "not this page's origin" in w for w in warnings)  # vega's log
    assert page.js_errors == []


@pytest.mark.timeout(120)
def test_a_notebook_without_charts_loads_no_chart_or_math_chunk(page: Page, serve) -> None:
    server = serve("edit", PLAIN)
    outside, requested = guard(page)
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    wait_idle(page)
    expect(outputs(page, 1).locator(".markdown-output b, .markdown-output strong")).to_have_text("bold")
    expect(outputs(page, 1).locator(".json-output, .text-output")).to_have_count(1)
    expect(page.locator(".cell-markdown.markdown")).to_contain_text("Prices: $5 and $10")
    assert any("/app.js" in url for url in requested)
    assert lazy_chunks(requested) == set()
    assert outside == []
    assert page.js_errors == []


@pytest.mark.timeout(120)
def test_charts_are_drawn_in_the_app_view(page: Page, serve) -> None:
    server = serve("run", CHARTS)
    outside, requested = guard(page)
    open_app(page, server)
    view = page.locator(".app-view")
    expect(view.locator(".vega-lite-output svg .mark-rect path")).to_have_count(3, timeout=30_000)
    expect(view.locator(".plotly-output svg.main-svg .barlayer .trace .point")).to_have_count(3, timeout=30_000)
    expect(view.locator(".latex-output .katex")).to_have_count(2)
    assert {"vega", "plotly", "katex"} <= lazy_chunks(requested)
    assert outside == []
    assert page.js_errors == []
