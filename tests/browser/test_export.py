"""``amphi export html-wasm`` and :func:`pyodide_host.export.write_runtime`: what a site holds
(no browser needed)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from lifecycle.notebook import loads_percent
from pyodide_host import export as export_mod
from pyodide_host.export import (
    ExportError,
    RuntimeAssets,
    export_html_wasm,
    notebook_requirements,
    write_runtime,
)
from pyodide_host.export import assets as export_assets
from tests.browser.conftest import PACKAGE


def _config(site: Path) -> dict:
    match = re.search(r'<script type="application/json" id="amphi-config">(.*?)</script>', (site / "index.html").read_text())
    assert match is not None
    return json.loads(match.group(1))


def test_a_site_holds_the_runtime_lock_index_bundle_and_service_worker(tools_site: Path) -> None:
    lock = json.loads((tools_site / "pyodide" / "pyodide-lock.json").read_text())
    packages = lock["packages"]
    assert {"amphikernel", "msgspec", "micropip", PACKAGE} <= set(packages)
    assert lock["info"]["abi_version"] == "2026_0"
    for entry in packages.values():
        assert (tools_site / "pyodide" / entry["file_name"]).is_file()
    assert packages["msgspec"]["file_name"].endswith("pyemscripten_2026_0_wasm32.whl")
    assert packages[PACKAGE]["imports"] == [PACKAGE]
    # Every .py precompiled by Pyodide's own interpreter (cpython-314 bytecode).
    with zipfile.ZipFile(tools_site / "pyodide" / packages[PACKAGE]["file_name"]) as wheel:
        names = wheel.namelist()
    sources = [n for n in names if n.endswith(".py")]
    assert sources and all(any(p.endswith(".cpython-314.pyc") and Path(p).name.startswith(Path(s).stem + ".") for p in names) for s in sources)
    # The local PEP 503 index links the same wheels, relatively.
    page = (tools_site / "simple" / PACKAGE / "index.html").read_text()
    href = re.search(r'href="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert href.startswith("../../pyodide/") and f"#sha256={packages[PACKAGE]['sha256']}" in href
    assert (tools_site / "simple" / PACKAGE / href.split("#")[0]).resolve().is_file()
    for name in ("index.html", "app.js", "app.css", "worker.js", "sw.js", "coi-serviceworker.js", "pyodide/pyodide.mjs", "tools.py"):
        assert (tools_site / name).is_file(), name
    config = _config(tools_site)
    assert config["transport"] == "worker" and config["worker"] == "worker.js" and config["serviceWorker"] == "sw.js"
    assert config["mode"] == "edit" and config["workerOptions"]["indexURLs"] == ["simple/"]
    assert [c["name"] for c in config["workerOptions"]["notebook"]["cells"]][1:3] == ["ask", "loop"]
    # Nothing on a CDN.
    for name in ("index.html", "worker.js", "sw.js", "app.js"):
        assert "cdn.jsdelivr" not in (tools_site / name).read_text()


def test_include_outputs_ships_the_outputs_and_their_virtual_files(demo_site: Path) -> None:
    import msgspec

    notes = msgspec.msgpack.decode((demo_site / "outputs.msgpack").read_bytes())
    assert {n["type"] for n in notes} >= {"cell-output", "cell-console"}
    assert any(n["type"] == "cell-output" and n["data"].get("text/plain") == "[1, 4, 9, 16]" for n in notes)
    files = sorted(p.name for p in (demo_site / "@file").iterdir())
    assert any(f.endswith("-gradient.png") for f in files) and any(f.endswith("-squares.csv") for f in files)
    png = next((demo_site / "@file").glob("*-gradient.png")).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert _config(demo_site)["workerOptions"]["outputsURL"] == "outputs.msgpack"


def test_write_runtime_returns_relative_urls(tmp_path: Path) -> None:
    progress: list[tuple[str, float | None]] = []
    assets = write_runtime(tmp_path / "rt", progress=lambda m, f: progress.append((m, f)))
    assert isinstance(assets, RuntimeAssets)
    for url in (assets.worker, assets.bundle_js, assets.bundle_css, assets.service_worker, assets.coi_service_worker):
        assert not url.startswith("/") and (tmp_path / "rt" / url).is_file()
    assert (tmp_path / "rt" / assets.pyodide_index / "pyodide.mjs").is_file()
    assert (tmp_path / "rt" / assets.pyodide_index / "pyodide-lock.json").is_file()
    assert (tmp_path / "rt" / assets.simple_index / "index.html").is_file()
    assert set(assets.packages) == {"amphikernel", "micropip", "msgspec"}
    assert progress[-1][1] == 1.0 and all(f is None or 0 <= f <= 1 for _, f in progress)
    with pytest.raises(AttributeError):
        assets.worker = "x"  # type: ignore[misc]  # frozen


def test_requirements_from_the_header_and_the_imports() -> None:
    nb = loads_percent(
        '"""Doc."""\n# /// script\n# dependencies = ["tabulate==0.10.0"]\n# ///\n\n'
        "# %%\nimport json, tabulate\nfrom lifecycle import ui\nimport yaml\nfrom . import x\n"
    )
    declared, imported = notebook_requirements(nb)
    assert declared == ["tabulate==0.10.0"]
    assert imported == ["tabulate", "yaml"]
    assert export_mod.project_for_import("yaml") == "PyYAML"


def test_imports_in_cells_with_ipython_syntax_are_found() -> None:
    nb = loads_percent("# %%\n%matplotlib inline\nimport tabulate\n!ls\nx = !pwd\n")
    assert notebook_requirements(nb) == ([], ["tabulate"])


def test_export_errors_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")
    with pytest.raises(ExportError, match="mode must be 'run' or 'edit'"):
        export_html_wasm(notebook, tmp_path / "site", mode="present")
    with pytest.raises(ExportError, match="cannot read"):
        export_html_wasm(tmp_path / "missing.py", tmp_path / "site")
    monkeypatch.setattr(export_assets, "BUNDLE_DIR", tmp_path / "no-bundle")
    with pytest.raises(ExportError, match="npm run build"):
        export_html_wasm(notebook, tmp_path / "site")
