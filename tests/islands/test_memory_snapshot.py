"""A Sphinx site with islands boots its kernel from the runtime's memory snapshot
(``_amphi/pyodide/memory-snapshot.*``, made under Node by the build) in headless Chromium: the
worker restores Python instead of booting it and loading our wheels, and the islands run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.build.snapshot import SIDECAR, SNAPSHOT_FILE
from pyodide_host.islands import RUNTIME_DIR
from tests.islands.conftest import sphinx_build

pytestmark = pytest.mark.timeout(600)

BOOT = 120_000

PAGE_RST = """\
Snapshot
========

.. amphi-cell::
   :id: stats

   import statistics
   print(f"mean: {statistics.mean([2, 4, 9])}")
"""


def test_a_sphinx_island_page_boots_from_the_snapshot_and_runs(page: Page, tmp_path: Path, static_server) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('project = "snap"\nextensions = ["pyodide_host.islands.sphinx"]\n')
    (src / "index.rst").write_text(PAGE_RST)
    out = tmp_path / "html"
    assert sphinx_build(src, out) == ""
    runtime = out / RUNTIME_DIR / "pyodide"
    sidecar = json.loads((runtime / SIDECAR).read_text())
    assert (runtime / SNAPSHOT_FILE).stat().st_size == sidecar["compressed_bytes"]
    assert {"amphikernel", "msgspec"} <= set(sidecar["packages"])

    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    server = static_server(out)
    page.goto(f"{server.url}index.html")
    island = page.locator(".amphi-island").first
    expect(island).to_have_attribute("data-status", "idle", timeout=BOOT)
    expect(island.locator(".amphi-output")).to_have_text("mean: 5", timeout=BOOT)

    assert any("Python restored from the memory snapshot" in line for line in console), console
    assert f"/{RUNTIME_DIR}/pyodide/{SNAPSHOT_FILE}" in server.requests
    assert not [r for r in server.requests if re.search(r"/(amphikernel|msgspec)-.*\.whl$", r)]
    assert page.foreign == []
    assert page.js_errors == []
