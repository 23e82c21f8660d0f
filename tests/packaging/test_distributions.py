"""What the wheel and the sdist hold, and ``pip install <sdist>`` without Node.js."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pyodide_host.build.pins import npm_pin
from tests.packaging.conftest import PYTHONS, Dists, make_venv, offline_env, run, user_env

pytestmark = pytest.mark.timeout(900)  # the first test builds the distributions

PACKAGES = ("lifecycle", "subprocess_host", "pyodide_host")


def _wheel_names(dists: Dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as wheel:
        return wheel.namelist()


def test_the_wheel_holds_every_package_the_bundle_and_the_pyodide_wheel_and_nothing_else(dists: Dists) -> None:
    names = _wheel_names(dists)
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {*PACKAGES, "amphikernel-0.1.0.dist-info"}, tops
    # Every Python package of the tree it was built from is in it (subpackages included).
    source = dists.source
    for package in PACKAGES:
        for init in (source / package).rglob("__init__.py"):
            rel = init.relative_to(source).as_posix()
            if all((p / "__init__.py").is_file() for p in init.parents if p.is_relative_to(source / package)):
                assert rel in names, rel
    for required in (
        "pyodide_host/build/prebuilt.py",
        "pyodide_host/export/runtime.py",
        "pyodide_host/npm/package-lock.json",
        "pyodide_host/node/compile_wheel.mjs",
        "pyodide_host/prebuilt/manifest.json",
        "pyodide_host/prebuilt/amphikernel-0.1.0-py3-none-any.whl",
        "subprocess_host/static/index.html",
        "subprocess_host/static/app/index.html",
        "subprocess_host/static/app/app.js",
        "subprocess_host/static/app/app.css",
        "subprocess_host/static/app/worker.js",
        "subprocess_host/static/app/sw.js",
        "subprocess_host/static/app/coi-serviceworker.js",
        "subprocess_host/static/app/amphi-islands.js",
    ):
        assert required in names, required
    bundle = source / "subprocess_host" / "static" / "app"
    for path in bundle.rglob("*"):  # the whole built bundle, chunks (JS, CSS, fonts) included
        if path.is_file() and path.name != ".gitignore":
            assert f"subprocess_host/static/app/{path.relative_to(bundle).as_posix()}" in names, path
    leftovers = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo", ".orig", ".rej", "~")) or "/tests/" in n or n.startswith(("tests/", "build/"))]
    assert leftovers == []


def test_the_wheel_declares_its_dependencies_extras_and_command(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        metadata = wheel.read("amphikernel-0.1.0.dist-info/METADATA").decode()
        entry_points = wheel.read("amphikernel-0.1.0.dist-info/entry_points.txt").decode()
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)(.*)$", metadata, re.MULTILINE)
    plain = {name.lower() for name, rest in requires if "extra ==" not in rest}
    assert {"msgspec", "pyzmq", "starlette", "uvicorn", "websockets", "platformdirs", "rich", "packaging"} <= plain
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.MULTILINE))
    assert {"completion", "docs"} <= extras
    assert "amphi = subprocess_host.cli:main" in entry_points
    assert "Requires-Python: >=3.10" in metadata


def test_the_sdist_holds_the_sources_and_both_build_outputs(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as sdist:
        names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    for required in (
        "setup.py",
        "pyproject.toml",
        "README.md",
        "pyodide_host/build/prebuilt.py",
        "pyodide_host/prebuilt/manifest.json",
        "pyodide_host/prebuilt/amphikernel-0.1.0-py3-none-any.whl",
        "subprocess_host/static/app/app.js",
        "lifecycle/kernel_lifecycle.py",
    ):
        assert required in names, required
    assert not [n for n in names if n.startswith(("tests/", "build/", "web/node_modules")) or "__pycache__" in n]


def test_pip_install_of_the_sdist_needs_no_node_and_exports(dists: Dists, filled_cache: Path, tmp_path: Path) -> None:
    """Built from the sdist in pip's isolated build environment, on our minimum Python, with no
    ``node`` reachable: the prebuilt Pyodide wheel comes from the sdist."""
    bare_path = tmp_path / "bin"  # only the interpreter's own folder and basic tools on PATH
    bare_path.mkdir()
    for tool in ("sh", "env", "uname", "cat", "ls"):
        found = next((Path(d) / tool for d in ("/usr/bin", "/bin") if (Path(d) / tool).exists()), None)
        if found is not None:
            (bare_path / tool).symlink_to(found)
    env = user_env(PATH=str(bare_path))
    assert run(["sh", "-c", "command -v node || echo none"], cwd=tmp_path, env=env).stdout.strip() == "none"
    venv = make_venv(PYTHONS[0], tmp_path / "venv", dists.sdist, env)
    version = run([venv.amphi, "--version"], cwd=tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"amphi 0.1.0 (exports use Pyodide {npm_pin().version})"
    site = tmp_path / "site"
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 6 * 7\nx\n")
    export = run([venv.amphi, "export", "html-wasm", str(notebook), "-o", str(site)], cwd=tmp_path, env={**offline_env(filled_cache), "PATH": str(bare_path)})
    assert export.returncode == 0, export.stderr
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    assert set(lock["packages"]) == {"amphikernel", "msgspec", "micropip"}
    shipped = site / "pyodide" / lock["packages"]["amphikernel"]["file_name"]
    with zipfile.ZipFile(shipped) as wheel:  # bytecode compiled inside Pyodide, at package build time
        assert "lifecycle/__pycache__/kernel_lifecycle.cpython-314.pyc" in wheel.namelist()


def test_building_with_a_stale_or_missing_pyodide_wheel_stops_with_one_line(dists: Dists, tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(dists.source, source)
    module = source / "lifecycle" / "kernel_lifecycle.py"
    module.write_text(module.read_text() + "\n# edited after `make pyodide-dist`\n")
    stale = run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "out"), str(source)], cwd=tmp_path, env=user_env())
    assert stale.returncode != 0
    assert "error: amphikernel: the prebuilt Pyodide wheel amphikernel-0.1.0-py3-none-any.whl was built from other sources: run `make pyodide-dist`" in stale.stdout + stale.stderr
    shutil.rmtree(source / "pyodide_host" / "prebuilt")
    missing = run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "out"), str(source)], cwd=tmp_path, env=user_env())
    assert missing.returncode != 0
    assert "error: amphikernel: the prebuilt Pyodide wheel (pyodide_host/prebuilt/) is missing" in missing.stdout + missing.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
