"""Acceptance of the browser host: notebooks exported with ``amphi export html-wasm``, served by a
plain static server, run by Pyodide in a Web Worker of a real Chromium.

Every test checks that no request left 127.0.0.1 (nothing from a CDN) and, unless it expects
one, that the page logged no error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.session import NO_ISOLATION_MESSAGE
from tests.browser.conftest import PACKAGE, StaticServer

BOOT = 90_000
"""Milliseconds allowed for Pyodide to boot and the notebook to run (a loaded 2-core machine)."""


def guard_network(page: Page) -> list[str]:
    """Abort and record every request that does not go to 127.0.0.1."""
    outside: list[str] = []

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        outside.append(route.request.url)
        route.abort()

    page.context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]|file:|data:|blob:)"), handle)
    return outside


def open_site(open_page, server: StaticServer, **kwargs) -> tuple[Page, list[str]]:  # type: ignore[no-untyped-def]
    page: Page = open_page(**kwargs)
    outside = guard_network(page)
    page.goto(server.url)
    return page, outside


def kernel_state(page: Page) -> str:
    return page.locator(".kernel-status").get_attribute("data-state") or ""


def wait_idle(page: Page, timeout: float = BOOT) -> None:
    expect(page.locator(".kernel-status")).to_have_attribute("data-state", "idle", timeout=timeout)


def app_cell(page: Page, name: str) -> object:
    """A run-mode cell by its position among code cells of browser_demo.py."""
    order = ["slider", "squares", "picture", "download"]
    return page.locator("section.app-cell.code").nth(order.index(name))


def edit_cell(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator("main.cells section.cell").nth(index)


def run_edit_cell(page: Page, index: int) -> None:
    edit_cell(page, index).get_by_role("button", name="Run cell").click()


TOOLS = {"ask": 1, "loop": 2, "package": 3, "http": 4, "missing": 5, "widget": 6}
"""Cell positions in tests/browser/conftest.py's TOOLS_NOTEBOOK."""


# ------------------------------------------------------------------------- run mode


@pytest.mark.timeout(240)
def test_exported_notebook_runs_and_a_slider_drives_the_dependent_cell(demo_site: Path, static_server, open_page) -> None:
    server = static_server(demo_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    squares = app_cell(page, "squares")
    expect(squares.locator(".output")).to_have_text("[1, 4, 9, 16]")
    slider = app_cell(page, "slider").locator("amphi-ui input[type=range]")
    slider.fill("6")
    expect(squares.locator(".output")).to_have_text("[1, 4, 9, 16, 25, 36]", timeout=30_000)
    wait_idle(page)
    assert page.evaluate("crossOriginIsolated") is True
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_an_image_virtual_file_renders_and_a_download_works_through_the_service_worker(
    demo_site: Path, static_server, open_page, tmp_path: Path
) -> None:
    server = static_server(demo_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    expect(page.locator(".boot-progress")).to_be_hidden()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    slider = app_cell(page, "slider").locator("amphi-ui input[type=range]")
    slider.fill("5")  # new files, made by the browser's kernel (not in the exported site)
    picture = app_cell(page, "picture").locator("img.demo-picture")
    expect(picture).to_have_attribute("width", "80", timeout=30_000)
    wait_idle(page)
    src = picture.get_attribute("src") or ""
    assert src.startswith("@file/") and src.endswith("-gradient.png")
    assert not (demo_site / src).exists()  # only the kernel has it
    page.wait_for_function("img => img.complete && img.naturalWidth === 80", arg=picture.element_handle(), timeout=30_000)
    link = app_cell(page, "download").locator("a[download]")
    href = link.get_attribute("href") or ""
    assert href.startswith("@file/") and not (demo_site / href).exists()
    with page.expect_download(timeout=30_000) as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "squares.csv"
    target = tmp_path / "squares.csv"
    download.save_as(target)
    assert target.read_text() == "n,square\n1,1\n2,4\n3,9\n4,16\n5,25\n"
    # Neither file was asked of the static server: the service worker answered from the kernel.
    assert not any(path.endswith((src.split("/")[-1], href.split("/")[-1])) for path in server.requests)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_include_outputs_shows_outputs_before_the_kernel_is_ready(demo_site: Path, static_server, open_page) -> None:
    server = static_server(demo_site, isolation_headers=True)
    gate = server.hold("/pyodide/pyodide.asm.wasm")  # Python cannot start until released
    page, outside = open_site(open_page, server)
    squares = app_cell(page, "squares")
    expect(squares.locator(".output")).to_have_text("[1, 4, 9, 16]")
    picture = app_cell(page, "picture").locator("img.demo-picture")
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=picture.element_handle())
    expect(page.locator(".boot-progress")).to_be_visible()
    expect(page.locator(".boot-progress-text")).to_contain_text("Python")
    assert kernel_state(page) == "connecting"
    assert not gate.is_set()
    gate.set()
    wait_idle(page)
    expect(squares.locator(".output")).to_have_text("[1, 4, 9, 16]")
    expect(page.locator(".boot-progress")).to_be_hidden()
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_site_opened_from_file_gives_a_clear_message(demo_site: Path, open_page) -> None:
    page: Page = open_page()
    page.goto((demo_site / "index.html").as_uri())
    message = page.locator("#amphi-file-protocol")
    expect(message).to_be_visible()
    expect(message).to_contain_text("served over HTTP(S), not opened as a file")
    expect(message).to_contain_text("python -m http.server")


# ------------------------------------------------------------------------ edit mode


@pytest.mark.timeout(240)
def test_edit_mode_runs_edited_cells_restarts_and_offers_a_download_instead_of_saving(
    demo_edit_site: Path, static_server, open_page, tmp_path: Path
) -> None:
    server = static_server(demo_edit_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    page.wait_for_selector(".notebook-view")
    wait_idle(page)
    squares = edit_cell(page, 2)
    expect(squares.locator(".outputs .output").last).to_have_text("[1, 4, 9, 16]")
    # Edit a cell and run it.
    squares.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text("squares = [n * n for n in range(1, size.value + 1)]\nsum(squares)")
    run_edit_cell(page, 2)
    expect(squares.locator(".outputs .output").last).to_have_text("30", timeout=30_000)
    wait_idle(page)
    # Restart: outputs cleared, a fresh kernel runs cells again.
    page.get_by_role("button", name="Restart").click()
    expect(squares.locator(".outputs .output")).to_have_count(0, timeout=30_000)
    wait_idle(page)
    run_edit_cell(page, 1)
    run_edit_cell(page, 2)
    expect(squares.locator(".outputs .output").last).to_have_text("30", timeout=30_000)
    # Saving is not possible in a browser: the .py is downloaded instead.
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="Save").click()
    download = info.value
    assert download.suggested_filename == "browser_demo.py"
    target = tmp_path / "saved.py"
    download.save_as(target)
    text = target.read_text()
    assert "sum(squares)" in text and "# %%" in text
    expect(page.locator(".toast.info")).to_contain_text("cannot be saved here")
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


# ------------------------------------------------------------- interrupt and input()


def _interrupt_loop(page: Page) -> None:
    loop = edit_cell(page, TOOLS["loop"])
    run_edit_cell(page, 0)
    wait_idle(page)
    run_edit_cell(page, TOOLS["loop"])
    expect(loop).to_have_attribute("data-status", "running", timeout=30_000)
    page.get_by_role("button", name="Interrupt").click()
    expect(loop.locator(".error-output")).to_contain_text("KeyboardInterrupt", timeout=30_000)
    wait_idle(page)
    # The interpreter is still usable.
    run_edit_cell(page, TOOLS["package"])
    expect(edit_cell(page, TOOLS["package"]).locator(".outputs")).to_contain_text("name", timeout=60_000)


@pytest.mark.timeout(240)
def test_interrupt_and_input_with_isolation_headers(tools_site: Path, static_server, open_page) -> None:
    server = static_server(tools_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    assert page.evaluate("crossOriginIsolated") is True
    _interrupt_loop(page)
    ask = edit_cell(page, TOOLS["ask"])
    run_edit_cell(page, TOOLS["ask"])
    field = ask.locator(".input-prompt input")
    expect(field).to_be_visible(timeout=30_000)
    field.fill("Ada")
    field.press("Enter")
    expect(ask.locator(".outputs")).to_contain_text("hello Ada", timeout=30_000)
    wait_idle(page)
    # Interrupting a waiting input() ends it with KeyboardInterrupt; the kernel stays usable.
    run_edit_cell(page, TOOLS["ask"])
    expect(field).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Interrupt").click()
    expect(ask.locator(".error-output")).to_contain_text("KeyboardInterrupt", timeout=30_000)
    wait_idle(page)
    run_edit_cell(page, TOOLS["ask"])
    expect(field).to_be_visible(timeout=30_000)
    field.fill("again")
    field.press("Enter")
    expect(ask.locator(".outputs")).to_contain_text("hello again", timeout=30_000)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_interrupt_with_only_the_coi_service_worker(tools_site: Path, static_server, open_page) -> None:
    server = static_server(tools_site, isolation_headers=False)
    page, outside = open_site(open_page, server)
    # First visit: the service worker installs, the page reloads once, then is isolated.
    wait_idle(page)
    assert page.evaluate("crossOriginIsolated") is True
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    _interrupt_loop(page)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_without_isolation_input_and_interrupt_explain_and_restart_stops_a_loop(
    tools_site: Path, static_server, open_page
) -> None:
    server = static_server(tools_site, isolation_headers=False)
    page, outside = open_site(open_page, server, service_workers="block")
    wait_idle(page)
    assert page.evaluate("crossOriginIsolated") is False
    ask = edit_cell(page, TOOLS["ask"])
    run_edit_cell(page, TOOLS["ask"])
    expect(ask.locator(".error-output")).to_contain_text(NO_ISOLATION_MESSAGE[:60], timeout=30_000)
    wait_idle(page)
    run_edit_cell(page, 0)
    run_edit_cell(page, TOOLS["loop"])
    loop = edit_cell(page, TOOLS["loop"])
    expect(loop).to_have_attribute("data-status", "running", timeout=30_000)
    page.get_by_role("button", name="Interrupt").click()
    expect(page.locator(".toast.error")).to_contain_text("Interrupt is not available on this page")
    # The worker cannot answer while the loop runs: restart replaces it.
    page.get_by_role("button", name="Restart").click()
    wait_idle(page)
    expect(loop).not_to_have_attribute("data-status", "running")
    run_edit_cell(page, TOOLS["package"])
    expect(edit_cell(page, TOOLS["package"]).locator(".outputs")).to_contain_text("name", timeout=60_000)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


# -------------------------------------------------------------------- packages, http


@pytest.mark.timeout(240)
def test_an_import_is_installed_from_the_local_index_before_the_cell_runs(tools_site: Path, static_server, open_page) -> None:
    server = static_server(tools_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    package = edit_cell(page, TOOLS["package"])
    run_edit_cell(page, TOOLS["package"])
    outputs = package.locator(".outputs")
    expect(outputs).to_contain_text(f"Installing {PACKAGE}", timeout=60_000)
    expect(outputs.locator(".output").last).to_contain_text("name", timeout=60_000)
    expect(outputs.locator(".output").last).to_contain_text("b")
    assert not package.locator(".error-output").count()
    wheels = [p for p in server.requests if p.startswith(f"/pyodide/{PACKAGE}-") and p.endswith(".whl")]
    assert wheels, server.requests
    # A package that exists nowhere: a clear error naming it, before the code runs.
    missing = edit_cell(page, TOOLS["missing"])
    run_edit_cell(page, TOOLS["missing"])
    error = missing.locator(".error-output")
    expect(error).to_contain_text("ModuleNotFoundError", timeout=60_000)
    expect(error).to_contain_text("the package 'amphi_no_such_package' (for `import amphi_no_such_package`) could not be installed")
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_urllib_requests_go_through_the_browser(tools_site: Path, static_server, open_page) -> None:
    server = static_server(tools_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    cell = edit_cell(page, TOOLS["http"])
    run_edit_cell(page, TOOLS["http"])
    expect(cell.locator(".outputs .output").last).to_contain_text("from-python", timeout=60_000)
    expect(cell.locator(".outputs .output").last).to_contain_text("static-server")
    assert not cell.locator(".error-output").count()
    assert "/api/echo" in server.requests
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_a_widget_es_module_is_imported_from_the_kernel_through_the_service_worker(
    tools_site: Path, static_server, open_page
) -> None:
    server = static_server(tools_site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    run_edit_cell(page, TOOLS["widget"])
    expect(edit_cell(page, TOOLS["widget"]).locator(".esm-widget")).to_have_text("an ES module from the kernel", timeout=60_000)
    assert not any(path.endswith("-widget.js") for path in server.requests)  # the kernel served it
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_the_worker_can_load_the_notebook_from_a_url(tools_site: Path, static_server, open_page) -> None:
    """`notebookURL` to a percent-format .py: parsed by Python once it is loaded."""
    import json as _json

    index = (tools_site / "index.html").read_text(encoding="utf-8")
    start = index.index('id="amphi-config">') + len('id="amphi-config">')
    end = index.index("</script>", start)
    config = _json.loads(index[start:end])
    del config["workerOptions"]["notebook"]
    config["workerOptions"]["notebookURL"] = "tools.py"
    (tools_site / "from-url.html").write_text(index[:start] + _json.dumps(config) + index[end:], encoding="utf-8")
    server = static_server(tools_site, isolation_headers=True)
    page: Page = open_page()
    outside = guard_network(page)
    page.goto(server.url + "from-url.html")
    wait_idle(page)
    expect(page.locator("main.cells section.cell")).to_have_count(len(TOOLS) + 1)
    expect(edit_cell(page, TOOLS["missing"]).locator(".cm-content")).to_contain_text("import amphi_no_such_package")
    run_edit_cell(page, TOOLS["http"])
    expect(edit_cell(page, TOOLS["http"]).locator(".outputs .output").last).to_contain_text("from-python", timeout=60_000)
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]
