"""`lifecycle/` imports nothing host-specific (no zmq, pyodide, js, starlette)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = {"zmq", "pyodide", "js", "starlette", "uvicorn", "pyodide_host", "subprocess_host"}
LIFECYCLE = Path(__file__).resolve().parents[2] / "lifecycle"


def test_no_forbidden_import_statements() -> None:
    offenders = []
    for path in sorted(LIFECYCLE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(LIFECYCLE)}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list(LIFECYCLE.rglob("*.py"))) > 5


def test_importing_every_module_loads_nothing_forbidden() -> None:
    modules = sorted(
        ".".join(("lifecycle", *p.relative_to(LIFECYCLE).with_suffix("").parts)).removesuffix(".__init__")
        for p in LIFECYCLE.rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=LIFECYCLE.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
