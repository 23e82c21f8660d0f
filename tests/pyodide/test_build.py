"""``python -m pyodide_host.build``: wheel checks, lock entries, and the dist directory."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pyodide_host import build
from pyodide_host.build import BuildError, RuntimeInfo, check_compatible, lock_entry

pytestmark = pytest.mark.timeout(300)

RUNTIME = RuntimeInfo(
    python="3.14.2", abi_version="2026_0", arch="wasm32", platform="emscripten_5_0_3", lock_info={}
)


@pytest.mark.parametrize(
    "name",
    [
        "pytest-9.0.3-py3-none-any.whl",
        "sortedcontainers-2.4.0-py2.py3-none-any.whl",
        "msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "thing-1.0-cp314-abi3-pyemscripten_2026_0_wasm32.whl",
        "old-1.0-cp314-cp314-emscripten_5_0_3_wasm32.whl",
    ],
)
def test_compatible_wheels(name: str) -> None:
    check_compatible(name, RUNTIME)


@pytest.mark.parametrize(
    "name",
    [
        "msgspec-0.22.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl",
        "msgspec-0.22.0-cp314-cp314-manylinux_2_17_x86_64.whl",
        "numpy-2.0-cp314-cp314-pyemscripten_2025_0_wasm32.whl",
        "py2only-1.0-py2-none-any.whl",
    ],
)
def test_incompatible_wheels_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(BuildError) as info:
        check_compatible(name, RUNTIME)
    assert "\n" not in str(info.value) and "does not fit the Pyodide runtime" in str(info.value)


def test_lock_entry_reads_imports_and_evaluates_markers(tmp_path: Path) -> None:
    wheel = tmp_path / "demo_pkg-1.2-py3-none-any.whl"
    meta = (
        "Metadata-Version: 2.1\nName: Demo-Pkg\nVersion: 1.2\n"
        "Requires-Dist: msgspec>=0.19\n"
        "Requires-Dist: tomli>=1; python_version < '3.11'\n"
        "Requires-Dist: pywin32; sys_platform == 'win32'\n"
        "Requires-Dist: extra-thing; extra == 'docs'\n"
        "Requires-Dist: Typing_Extensions; platform_system == 'Emscripten'\n"
    )
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        zf.writestr("demo/sub/__init__.py", "")
        zf.writestr("single.py", "")
        zf.writestr("_native.cpython-314-wasm32-emscripten.so", b"\0asm")
        zf.writestr("demo_pkg-1.2.dist-info/METADATA", meta)
    key, entry = lock_entry(wheel, RUNTIME)
    assert key == "demo-pkg"
    assert entry["name"] == "Demo-Pkg" and entry["version"] == "1.2"
    assert entry["imports"] == ["_native", "demo", "single"]
    assert entry["depends"] == ["msgspec", "typing-extensions"]
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (entry["install_dir"], entry["package_type"], entry["file_name"]) == ("site", "package", wheel.name)
    assert entry["unvendored_tests"] is False and entry["shared_library"] is False


def test_pinned_versions_come_from_requirements_dev() -> None:
    pins = build.pinned_versions(["msgspec", "Pygments", "micropip"])
    requirements = (build.REPO / "requirements-dev.txt").read_text()
    assert f"msgspec=={pins['msgspec']}" in requirements
    assert f"Pygments=={pins['Pygments']}" in requirements
    assert pins["micropip"] == "0.11.1"
    with pytest.raises(BuildError, match="no pinned version"):
        build.pinned_versions(["surely-not-pinned-anywhere"])


def test_dist_directory(pyodide_dist: Path) -> None:
    lock = json.loads((pyodide_dist / "pyodide-lock.json").read_text())
    assert lock["info"]["python"].startswith("3.14") and lock["info"]["abi_version"] == "2026_0"
    wheels = sorted(p.name for p in pyodide_dist.glob("*.whl"))
    assert sorted(e["file_name"] for e in lock["packages"].values()) == wheels  # exactly what is there
    assert set(lock["packages"]) == {"amphikernel", "msgspec", "micropip"}
    for entry in lock["packages"].values():
        assert entry["sha256"] == hashlib.sha256((pyodide_dist / entry["file_name"]).read_bytes()).hexdigest()
        for dependency in entry["depends"]:
            assert dependency in lock["packages"]
    assert lock["packages"]["msgspec"]["file_name"] == "msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    assert lock["packages"]["amphikernel"]["depends"] == ["msgspec"]
    for runtime_file in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        assert (pyodide_dist / runtime_file).is_file()


def test_our_wheel_holds_the_pyodide_packages_with_bytecode(pyodide_dist: Path) -> None:
    (wheel,) = pyodide_dist.glob("amphikernel-*.whl")
    with zipfile.ZipFile(io.BytesIO(wheel.read_bytes())) as zf:
        names = set(zf.namelist())
    sources = {n for n in names if n.endswith(".py")}
    assert "lifecycle/kernel_lifecycle.py" in sources and "pyodide_host/session.py" in sources
    assert not [n for n in names if n.startswith(("pyodide_host/build/", "subprocess_host/", "tests/"))]
    for source in sources:  # unchecked-hash bytecode compiled by Pyodide's own interpreter
        folder, _, module = source.rpartition("/")
        assert f"{folder}/__pycache__/{module[:-3]}.cpython-314.pyc" in names


def test_rebuilding_is_a_no_op(pyodide_dist: Path) -> None:
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in pyodide_dist.iterdir()}
    out = subprocess.run(
        [sys.executable, "-m", "pyodide_host.build"], capture_output=True, text=True, timeout=240, cwd=build.REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(pyodide_dist)
    assert out.stderr == ""  # nothing to do, nothing said
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in pyodide_dist.iterdir()}
    assert after == before


def test_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    code = build.main(["--root", str(tmp_path / "root"), "--quiet"])
    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "pyodide_host.build: error: npm not found on PATH (needed to install the pyodide npm package)\n"
