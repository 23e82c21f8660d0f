"""Acceptance: virtual files (``@file/...`` images and downloads) in islands on documentation
pages that have no service worker: a real Sphinx build and a real ``mkdocs build``, served by a
static HTTP server on 127.0.0.1, in headless Chromium.  The kernel pushes each file's bytes to
the page, which shows them through ``blob:`` URLs (no request for ``@file/`` reaches the site)
and revokes a URL when the kernel releases its file (the island re-ran)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.islands import ISLANDS_SCRIPT, RUNTIME_DIR
from subprocess_host.server.config import DEFAULT_WEB_DIST as BUNDLE_DIR
from tests.islands.conftest import StaticServer, sphinx_build

pytestmark = pytest.mark.timeout(600)  # the first runtime write may fill build/pyodide/ caches

BOOT = 120_000
"""Milliseconds allowed for Pyodide to boot and the first run (a loaded machine)."""

PNG_CODE = """\
import struct, zlib
from lifecycle.display import image

def png(width, height, rgb):
    row = b"\\x00" + bytes(rgb) * width
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height, 0)) + chunk(b"IEND", b"")

picture = png(320, 300, (200, 40, 90))  # over 256 KiB: published as a virtual file
image(picture, alt="big square")"""

DOWNLOAD_CODE = """\
from lifecycle.virtual_files import download
report = "name,value\\n" + "".join(f"row{i},{i * i}\\n" for i in range(2000))
download(report, "report.csv", label="Download the report")"""

MARKDOWN_CODE = """\
from lifecycle.display import md
from lifecycle.virtual_files import publish
md(f"A badge: ![badge]({publish(png(40, 20, (0, 120, 200)), 'badge.png')})")"""

REPORT = "name,value\n" + "".join(f"row{i},{i * i}\n" for i in range(2000))


@pytest.fixture(autouse=True)
def _bundle_built() -> None:
    if not (BUNDLE_DIR / ISLANDS_SCRIPT).is_file():
        pytest.fail(f"the web bundle has no {ISLANDS_SCRIPT} ({BUNDLE_DIR}): run `npm ci && npm run build` in web/")


def indented(code: str) -> str:
    return "\n".join(f"   {line}" if line else "" for line in code.splitlines())


def island(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator(".amphi-island").nth(index)


def loaded_width(page: Page, selector: str) -> int:
    """The natural width of the image once decoded (0: broken)."""
    return page.locator(selector).evaluate(
        "img => img.decode().then(() => img.naturalWidth, () => 0)"
    )


def blob_alive(page: Page, url: str) -> bool:
    return page.evaluate("url => fetch(url).then(r => r.ok, () => false)", url)


def check_virtual_files(page: Page, server: StaticServer, tmp_path: Path, *, markdown: bool) -> None:
    """The page's islands: 0 a big PNG, 1 a CSV download, 2 (when ``markdown``) Markdown with
    a published image."""
    count = 3 if markdown else 2
    for i in range(count):
        expect(island(page, i)).to_have_attribute("data-status", "idle", timeout=BOOT)

    # The image: a blob: URL the page made from the pushed bytes, decoded at its real size.
    img = island(page, 0).locator(".amphi-output img")
    expect(img).to_have_count(1)
    first_src = img.get_attribute("src") or ""
    assert first_src.startswith("blob:"), first_src
    assert loaded_width(page, ".amphi-island >> nth=0 >> .amphi-output img") == 320
    assert img.get_attribute("alt") == "big square"

    # The download: saved byte for byte under its name.
    link = island(page, 1).get_by_role("link", name="Download the report")
    assert (link.get_attribute("href") or "").startswith("blob:")
    with page.expect_download(timeout=30_000) as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "report.csv"
    target = tmp_path / "report.csv"
    download.save_as(target)
    assert target.read_bytes() == REPORT.encode()

    if markdown:
        badge = island(page, 2).locator(".amphi-output img")
        assert (badge.get_attribute("src") or "").startswith("blob:")
        assert loaded_width(page, ".amphi-island >> nth=2 >> .amphi-output img") == 40

    # Re-running the image's island releases its file: the old URL is revoked, a new one shown.
    # (Island 2 reads `png` from island 0, so it re-runs too.)
    assert blob_alive(page, first_src)
    held = page.evaluate("window.amphi.islands.files.size")
    assert held == count
    island(page, 0).get_by_role("button", name="Run").click()
    expect(img).not_to_have_attribute("src", first_src, timeout=60_000)
    expect(island(page, 0)).to_have_attribute("data-status", "idle", timeout=60_000)
    assert (img.get_attribute("src") or "").startswith("blob:")
    assert loaded_width(page, ".amphi-island >> nth=0 >> .amphi-output img") == 320
    seen = len(page.js_errors)
    assert not blob_alive(page, first_src)  # revoked (Chromium logs the failed fetch)
    assert page.js_errors[seen:] == ["console.error: Failed to load resource: net::ERR_FILE_NOT_FOUND"]
    del page.js_errors[seen:]
    if markdown:
        expect(island(page, 2)).to_have_attribute("data-status", "idle", timeout=60_000)
    assert page.evaluate("window.amphi.islands.files.size") == held  # nothing leaked

    # No service worker (none registered, none controls the page), and not one request for
    # @file/ reached the site.
    assert page.evaluate("navigator.serviceWorker.controller") is None
    assert page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    assert [r for r in server.requests if "@file" in r] == []
    assert sum(1 for r in server.requests if r.startswith(f"/{RUNTIME_DIR}/worker.js")) == 1  # one runtime
    assert page.foreign == []
    assert page.js_errors == []


def test_sphinx_page_shows_island_images_and_downloads(page: Page, tmp_path: Path, static_server) -> None:
    src = tmp_path / "src"
    (src / "guide").mkdir(parents=True)
    (src / "conf.py").write_text('project = "files"\nextensions = ["pyodide_host.islands.sphinx"]\n')
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   guide/files\n")
    (src / "guide" / "files.rst").write_text(
        "Files\n=====\n\n"
        f".. amphi-cell::\n   :id: picture\n\n{indented(PNG_CODE)}\n\n"
        f"A download:\n\n.. amphi-cell::\n\n{indented(DOWNLOAD_CODE)}\n\n"
        f"Markdown:\n\n.. amphi-cell::\n\n{indented(MARKDOWN_CODE)}\n"
    )
    out = tmp_path / "html"
    assert sphinx_build(src, out) == ""
    server = static_server(out)
    page.goto(f"{server.url}guide/files.html")
    expect(page.locator(".amphi-island")).to_have_count(3)
    check_virtual_files(page, server, tmp_path, markdown=True)


MKDOCS_YML = """\
site_name: Files demo
theme:
  name: mkdocs
  highlightjs: false   # the theme would load highlight.js from a CDN
plugins:
  - search   # the theme's script expects it
  - amphi
"""


def test_mkdocs_page_shows_island_images_and_downloads(page: Page, tmp_path: Path, static_server) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    (tmp_path / "docs" / "index.md").write_text(
        f"# Files\n\n```amphi\n{PNG_CODE}\n```\n\nA download:\n\n```python {{.amphi}}\n{DOWNLOAD_CODE}\n```\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    server = static_server(site)
    page.goto(server.url)
    expect(page.locator(".amphi-island")).to_have_count(2)
    check_virtual_files(page, server, tmp_path, markdown=False)
