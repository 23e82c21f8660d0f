"""Memory-snapshot boot of exported sites in a real Chromium: ``amphi export html-wasm`` writes
``pyodide/memory-snapshot.json`` + ``memory-snapshot.bin.gz`` (made under Node), the page's
worker restores Python from it instead of booting it and loading our wheels, and falls back to
a normal boot (console note) when the snapshot does not match the runtime or cannot be loaded.

Which path the worker took is read from what the page fetched (a restored worker never asks for
the amphikernel or msgspec wheel: they are inside the snapshot) and from its console notes.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyodide_host.build.snapshot import SIDECAR, SNAPSHOT_FILE
from tests.browser.conftest import export
from tests.browser.test_static_site import BOOT, guard_network, wait_idle

NOTEBOOK = '''# %%
import os
import random
import statistics

f"rand={random.random()!r} urandom={os.urandom(8).hex()}"

# %%
statistics.mean([1, 2, 3, 4])
'''
"""Run mode: a cell showing the random state (reseeded on restore) and os.urandom, and one
using a module the snapshot imported at build time."""

RESTORED = "Python restored from the memory snapshot"


@pytest.fixture(scope="module")
def snapshot_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("snapshot")
    notebook = base / "snap.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    return export(notebook, base / "site")


def open_logged(open_page, url: str) -> tuple[Page, list[str], list[str]]:  # type: ignore[no-untyped-def]
    page: Page = open_page()
    outside = guard_network(page)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.goto(url)
    return page, console, outside


def cell_outputs(page: Page) -> list[str]:
    return page.locator("section.app-cell.code .output").all_inner_texts()


def fetched_wheels(requests: list[str]) -> list[str]:
    return [r for r in requests if re.search(r"/pyodide/(amphikernel|msgspec)-.*\.whl$", r)]


def test_the_export_writes_a_matching_compressed_snapshot(snapshot_site: Path) -> None:
    sidecar = json.loads((snapshot_site / "pyodide" / SIDECAR).read_text())
    blob = (snapshot_site / "pyodide" / SNAPSHOT_FILE).read_bytes()
    assert sidecar["file"] == SNAPSHOT_FILE and sidecar["compressed_bytes"] == len(blob)
    assert blob[:2] == b"\x1f\x8b"  # gzip
    lock = json.loads((snapshot_site / "pyodide" / "pyodide-lock.json").read_text())
    for name in ("amphikernel", "msgspec"):
        assert sidecar["packages"][name]["sha256"] == lock["packages"][name]["sha256"]
    assert sidecar["pyodide"] == json.loads((snapshot_site / "pyodide" / "package.json").read_text())["version"]
    assert gzip.decompress(blob)[:8] == b"AMPHISNP"


@pytest.mark.timeout(300)
def test_an_exported_site_boots_from_the_snapshot_and_runs(snapshot_site: Path, static_server, open_page) -> None:
    server = static_server(snapshot_site, isolation_headers=True)
    runs = []
    for _ in range(2):
        page, console, outside = open_logged(open_page, server.url)
        wait_idle(page)
        expect(page.locator("section.app-cell.code .output").nth(1)).to_have_text("2.5", timeout=BOOT)
        runs.append(cell_outputs(page)[0])
        assert any(RESTORED in line for line in console), console
        assert not [line for line in console if line.startswith("error")], console
        assert outside == [] and page.js_errors == []  # type: ignore[attr-defined]
    assert f"/pyodide/{SNAPSHOT_FILE}" in server.requests
    assert fetched_wheels(server.requests) == []  # our packages came inside the snapshot
    # Every page gets fresh randomness: `random` is reseeded on restore, os.urandom works.
    first, second = (re.fullmatch(r"'rand=(\S+) urandom=([0-9a-f]{16})'", text.strip()) for text in runs)
    assert first and second, runs
    assert first.group(1) != second.group(1) and first.group(2) != second.group(2)


@pytest.mark.timeout(400)
def test_a_mismatched_or_broken_snapshot_falls_back_to_a_normal_boot(
    snapshot_site: Path, tmp_path: Path, static_server, open_page
) -> None:
    site = tmp_path / "site"
    shutil.copytree(snapshot_site, site)
    sidecar_path = site / "pyodide" / SIDECAR
    sidecar = json.loads(sidecar_path.read_text())

    # 1. Made for another lock: refused (its download is cancelled).
    sidecar_path.write_text(json.dumps({**sidecar, "lock_sha256": "0" * 64}))
    server = static_server(site, isolation_headers=True)
    page, console, outside = open_logged(open_page, server.url)
    wait_idle(page)
    expect(page.locator("section.app-cell.code .output").nth(1)).to_have_text("2.5", timeout=BOOT)
    assert any("another pyodide-lock.json" in line and line.startswith("warning") for line in console), console
    assert not any(RESTORED in line for line in console)
    assert len(fetched_wheels(server.requests)) == 2  # booted normally: our wheels loaded
    assert outside == [] and page.js_errors == []  # type: ignore[attr-defined]

    # 2. Matching description, damaged container: downloaded, refused, normal boot.
    sidecar_path.write_text(json.dumps(sidecar))
    (site / "pyodide" / SNAPSHOT_FILE).write_bytes(gzip.compress(b"AMPHISNP" + b"\x01\x00\x00\x00" + b"\xff" * 64))
    server = static_server(site, isolation_headers=True)
    page, console, outside = open_logged(open_page, server.url)
    wait_idle(page)
    expect(page.locator("section.app-cell.code .output").nth(1)).to_have_text("2.5", timeout=BOOT)
    assert any("could not be" in line and line.startswith("warning") for line in console), console
    assert f"/pyodide/{SNAPSHOT_FILE}" in server.requests
    assert len(fetched_wheels(server.requests)) == 2
    assert outside == [] and page.js_errors == []  # type: ignore[attr-defined]

    # 3. A real container cut short after its header: Python is already being restored (the
    # runtime loads while the snapshot streams in) when the bytes run out; normal boot.
    good = gzip.decompress((snapshot_site / "pyodide" / SNAPSHOT_FILE).read_bytes())
    (site / "pyodide" / SNAPSHOT_FILE).write_bytes(gzip.compress(good[: len(good) // 2], compresslevel=1))
    server = static_server(site, isolation_headers=True)
    page, console, outside = open_logged(open_page, server.url)
    wait_idle(page)
    expect(page.locator("section.app-cell.code .output").nth(1)).to_have_text("2.5", timeout=BOOT)
    assert any("truncated" in line and line.startswith("warning") for line in console), console
    assert not any(RESTORED in line for line in console)
    assert len(fetched_wheels(server.requests)) == 2
    assert outside == [] and page.js_errors == []  # type: ignore[attr-defined]
