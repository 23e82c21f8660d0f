"""The frontend bundle's build (``web/scripts/build.mjs``): deterministic (the same lock and
sources give the same bytes, wherever it is written), and the chart and math libraries are
chunks of their own that no view loads up front."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
LAZY = ("src/render/lazy/vega.ts", "src/render/lazy/plotly.ts", "src/render/lazy/katex.ts")


def build(out: Path, report: Path | None = None) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to build the frontend bundle")
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.fail("web/node_modules is missing: run `npm ci` in web/")
    env = {**os.environ, **({"AMPHI_BUNDLE_REPORT": str(report)} if report else {})}
    proc = subprocess.run([node, "scripts/build.mjs", str(out)], cwd=WEB, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.timeout(240)
def test_the_build_is_deterministic_and_keeps_charts_out_of_the_first_load(tmp_path: Path) -> None:
    report = tmp_path / "meta.json"
    stdout = build(tmp_path / "one", report)
    build(tmp_path / "elsewhere" / "two")
    first, second = digests(tmp_path / "one"), digests(tmp_path / "elsewhere" / "two")
    assert first == second

    outputs = json.loads(report.read_text())["outputs"]

    def static_closure(path: str, seen: set[str]) -> set[str]:
        if path not in seen:
            seen.add(path)
            for imp in outputs[path].get("imports", []):
                if imp["kind"] == "import-statement":
                    static_closure(imp["path"], seen)
        return seen

    def output_of(source: str) -> str:
        return next(p for p, o in outputs.items() if o.get("entryPoint") == source and p.endswith(".js"))

    up_front: set[str] = set()
    for entry in ("src/main.ts", "src/islands/index.ts", "src/views/notebook.ts", "src/views/app.ts"):
        static_closure(output_of(entry), up_front)
    lazy = {source: output_of(source) for source in LAZY}
    for source, path in lazy.items():
        assert path not in up_front, source
        assert Path(path).name.startswith(Path(source).stem + "-")
    # The libraries themselves are only in their chunks.
    for path in up_front:
        inputs = outputs[path].get("inputs", {})
        assert not [i for i in inputs if "node_modules/" in i and i.split("node_modules/")[1].startswith(("vega", "plotly", "katex"))], path
    # KaTeX's stylesheet and woff2 fonts sit beside the chunks; app.css has none of it.
    names = set(first)
    assert any(n.startswith("chunks/katex-") and n.endswith(".css") for n in names)
    assert sum(n.endswith(".woff2") for n in names) == 20 and not any(n.endswith((".woff", ".ttf")) for n in names)
    assert "KaTeX" not in (tmp_path / "one" / "app.css").read_text()
    assert "on first use, plotly:" in stdout and "edit view:" in stdout
