"""Virtual files made in an app process (an image and a download) load in Chromium through
the main server (``/<app>/@file/...``, read from the app process's shared memory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from subprocess_host.server.config import DEFAULT_WEB_DIST
from tests.chromium import chromium_browser

from ..server.test_cli import REPO, read_url
from .harness import write_nb

pytestmark = pytest.mark.timeout(240)


def test_image_and_download_from_an_app_process(tmp_path: Path) -> None:
    assert (DEFAULT_WEB_DIST / "index.html").is_file(), "build the frontend: cd web && npm run build"
    demo = shutil.copy(REPO / "examples" / "browser_demo.py", tmp_path / "browser_demo.py")
    other = write_nb(tmp_path / "other.py", "print('other app')")
    process = subprocess.Popen(
        [sys.executable, "-m", "subprocess_host.cli", "run", str(demo), str(other), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        url = read_url(process)
        base, query = url.split("/?")
        with chromium_browser() as browser:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/browser_demo/?{query}")
            picture = page.locator("section.app-cell.code").nth(2).locator("img.demo-picture")
            src = picture.get_attribute("src") or ""
            assert src.startswith("@file/") and src.endswith("-gradient.png")
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
            assert page.evaluate("src => new URL(src, location.href).pathname", src).startswith("/browser_demo/@file/")
            link = page.locator("section.app-cell.code").nth(3).locator("a[download]")
            assert (link.get_attribute("href") or "").startswith("@file/")
            with page.expect_download() as info:
                link.click()
            target = tmp_path / "squares.csv"
            info.value.save_as(target)
            assert info.value.suggested_filename == "squares.csv"
            assert target.read_text().startswith("n,square\n1,1\n")
            page.close()
    finally:
        process.terminate()
        assert process.wait(30) == 0
