"""After a memory-snapshot boot in Chromium, a shared library's exported data is where its code
looks for it: cells define msgspec Structs (a C metaclass, StructMeta) with fields and defaults.

The snapshot's libraries are re-instantiated at their old memory base; Emscripten had
relocated their exported data symbols (and the GOT entries msgspec's own code reads them
through: NoDefault, Unset) by a base it allocated itself, so the first Struct with a field
crashed the runtime ("function signature mismatch"), or msgspec handed out a stale NODEFAULT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import export
from tests.browser.test_memory_snapshot import RESTORED, cell_outputs, fetched_wheels, open_logged
from tests.browser.test_static_site import BOOT, wait_idle

NOTEBOOK = '''# %%
import msgspec

class Point(msgspec.Struct):
    x: int
    y: int = 0

class Meta(type):
    pass

class Plain(metaclass=Meta):
    z: str

(
    f"{msgspec.json.encode(Point(1))!r} {msgspec.json.decode(b'{\\"x\\": 2}', type=Point)!r} "
    f"{type(Point).__name__} {Point.__struct_defaults__!r} {msgspec.field().default is msgspec.NODEFAULT} "
    f"{msgspec.UNSET!r} {type(Plain).__name__}"
)
'''
"""Run mode: one cell defining a Struct with fields (one with a default), decoding into it, and
a class of a Python metaclass; the snapshot holds msgspec imported already."""

EXPECTED = """'b\\'{"x":1,"y":0}\\' Point(x=2, y=0) StructMeta (0,) True UNSET Meta'"""


@pytest.mark.timeout(300)
def test_structs_defined_after_a_snapshot_boot_work(tmp_path: Path, static_server, open_page) -> None:
    notebook = tmp_path / "structs.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    site = export(notebook, tmp_path / "site", "--no-detect-imports")
    server = static_server(site, isolation_headers=True)
    page, console, outside = open_logged(open_page, server.url)
    wait_idle(page)
    expect(page.locator("section.app-cell.code .output").first).to_have_text(EXPECTED, timeout=BOOT)
    assert cell_outputs(page) == [EXPECTED]
    assert any(RESTORED in line for line in console), console  # booted from the snapshot
    assert fetched_wheels(server.requests) == []
    assert not [line for line in console if line.startswith("error") or "fatal error" in line], console
    assert outside == [] and page.js_errors == []  # type: ignore[attr-defined]
