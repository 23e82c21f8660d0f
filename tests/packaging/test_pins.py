"""The pins an installed amphikernel downloads by (no venv needed), and the freshness check of
the prebuilt Pyodide wheel that ``setup.py`` and the export rely on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pyodide_host.build import pinned_versions
from pyodide_host.build.pins import RUNTIME_WHEEL_PINS, npm_pin
from pyodide_host.build.prebuilt import check_prebuilt, package_sources, write_prebuilt
from pyodide_host.build.wheels import RUNTIME_WHEELS, wheel_parts
from tests.packaging.conftest import REPO

pytestmark = pytest.mark.timeout(60)


def test_the_runtime_wheels_are_pinned_by_hash_at_the_versions_the_tests_use() -> None:
    assert [p.name for p in RUNTIME_WHEEL_PINS] == list(RUNTIME_WHEELS)
    versions = pinned_versions(RUNTIME_WHEELS)  # requirements-dev.txt (+ micropip)
    for pin in RUNTIME_WHEEL_PINS:
        name, version, _ = wheel_parts(pin.filename)
        assert (name, version) == (pin.name, pin.version) == (pin.name, versions[pin.name])
        assert len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0
        assert pin.url.startswith("https://files.pythonhosted.org/") and pin.url.endswith("/" + pin.filename)


def test_the_npm_runtime_pin_is_the_committed_lock() -> None:
    pin = npm_pin()
    lock = json.loads((REPO / "pyodide_host" / "npm" / "package-lock.json").read_text())
    package = json.loads((REPO / "pyodide_host" / "npm" / "package.json").read_text())
    assert pin.version == lock["packages"]["node_modules/pyodide"]["version"] == package["dependencies"]["pyodide"]
    assert pin.integrity.startswith("sha512-") and pin.integrity == lock["packages"]["node_modules/pyodide"]["integrity"]
    assert pin.url() == f"https://registry.npmjs.org/pyodide/-/pyodide-{pin.version}.tgz"
    assert pin.url("http://mirror.test/npm/") == f"http://mirror.test/npm/pyodide/-/pyodide-{pin.version}.tgz"


def _tree(root: Path) -> Path:
    """The parts of the source tree the Pyodide wheel is made of, copied to ``root``."""
    for rel, path in package_sources(REPO):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / rel)
    for rel in ("pyodide_host/build/compile_in_pyodide.py", "pyodide_host/node/compile_wheel.mjs", "pyodide_host/npm/package-lock.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, root / rel)
    return root


def test_the_prebuilt_wheel_is_current_only_for_the_sources_it_was_built_from(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    assert "missing" in (check_prebuilt("0.1.0", root) or "")
    wheel = tmp_path / "amphikernel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK stand-in for the wheel")
    copy = write_prebuilt(wheel, "0.1.0", root)
    assert copy == root / "pyodide_host" / "prebuilt" / wheel.name
    assert check_prebuilt("0.1.0", root) is None
    assert "built from other sources" in (check_prebuilt("0.2.0", root) or "")  # the version is part of it
    module = root / "lifecycle" / "kernel_lifecycle.py"
    module.write_text(module.read_text() + "\n# changed\n")
    problem = check_prebuilt("0.1.0", root)
    assert problem is not None and "built from other sources" in problem and "make pyodide-dist" in problem
    assert "\n" not in problem
    write_prebuilt(wheel, "0.1.0", root)
    assert check_prebuilt("0.1.0", root) is None
    copy.write_bytes(b"PK changed")
    assert "does not match its manifest" in (check_prebuilt("0.1.0", root) or "")
