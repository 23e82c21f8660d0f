"""A dropped WebSocket: the page reconnects and resynchronises without losing the notebook."""

from __future__ import annotations

import re

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.helpers import (
    cell,
    cells,
    open_notebook,
    outputs,
    run_cell,
    set_code,
    shot,
    wait_idle,
)


def test_dropped_websocket_reconnects_without_losing_the_notebook(page: Page, serve) -> None:
    server = serve("edit", "# %%\nx = 21\nprint('x set')\n\n# %%\nx * 2\n")
    connections: list[tuple[WebSocketRoute, WebSocketRoute]] = []
    network_down = [False]

    def proxy(ws: WebSocketRoute) -> None:
        if network_down[0]:
            ws.close(code=4000, reason="network down")
            return
        connections.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r"/ws(\?.*)?$"), proxy)
    open_notebook(page, server)
    page.evaluate(
        "() => { window.__states = []; window.amphi.transport.onStatus(s => window.__states.push(s.state)); }"
    )
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_have_text("42")
    # Changes only this tab has: an edit not run yet, a new cell.
    set_code(page, 1, "x * 3")
    page.get_by_role("button", name="Code cell").click()
    page.keyboard.insert_text("'added while connected'")
    assert len(connections) == 1

    # The network drops the connection (both directions) and stays down for a while.
    network_down[0] = True
    page_side, server_side = connections[0]
    server_side.close(code=1001, reason="network")
    page_side.close(code=4000, reason="network")
    banner = page.locator(".banner")
    expect(banner).to_contain_text("Connection lost. Reconnecting")
    expect(page.locator(".kernel-status")).to_have_text("Reconnecting…")
    page.wait_for_function("window.__states.filter(s => s === 'reconnecting').length >= 3")
    shot(page, "notebook-reconnecting", full_page=False)
    # The network is back; "Retry now" does not wait for the backoff.
    network_down[0] = False
    banner.get_by_role("button", name="Retry now").click()
    page.wait_for_function("window.__states.at(-1) === 'open'")
    wait_idle(page, timeout=20000)
    expect(banner).to_be_hidden()
    assert len(connections) == 2
    states = page.evaluate("window.__states")
    assert "reconnecting" in states and states[-1] == "open", states

    # Nothing lost: outputs replayed, local edits and the new cell kept, kernel state alive.
    expect(cells(page)).to_have_count(3)
    expect(outputs(page, 0)).to_have_text("x set")
    expect(outputs(page, 1)).to_have_text("42")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x * 3")
    expect(cell(page, 2).locator(".cm-content")).to_have_text("'added while connected'")
    run_cell(page, 1)
    expect(outputs(page, 1)).to_have_text("63")
    run_cell(page, 2)
    expect(outputs(page, 2)).to_have_text("'added while connected'")
    assert page.js_errors == []


def test_a_second_tab_sees_the_first_tabs_changes(page: Page, context, serve) -> None:
    server = serve("edit", "# %%\nfrom lifecycle import ui\nn = ui.slider(0, 10, value=3)\nn\n\n# %%\nn.value + 100\n")
    open_notebook(page, server)
    page.get_by_role("button", name="Run all").click()
    expect(outputs(page, 1)).to_have_text("103")
    other = context.new_page()
    open_notebook(other, server)
    expect(outputs(other, 1)).to_have_text("103")
    # A slider moved in the first tab moves in the second (the server echoes UI values).
    slider = cell(page, 0).locator("input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(outputs(other, 1)).to_have_text("104")
    expect(cell(other, 0).locator("input[type=range]")).to_have_value("4")
    # Code run in the second tab shows up in the first.
    set_code(other, 1, "n.value + 200")
    other.keyboard.press("Control+Enter")
    expect(outputs(page, 1)).to_have_text("204")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("n.value + 200")
    wait_idle(page)
    other.close()
