"""install-packages with the real pip, on a wheel built here (no network)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lifecycle import protocol
from lifecycle.packages import InvalidRequirementError, check_requirement
from tests.lifecycle.harness import KernelHarness, needs_subprocess, outputs

pytestmark = pytest.mark.timeout(180)


def build_wheel(directory: Path, name: str, version: str = "1.0") -> Path:
    """A minimal valid pure-Python wheel (PEP 427) with one module."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": b"ANSWER = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: amphikernel-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.mark.parametrize("bad", ["--index-url=http://evil", "", "a b c", "pkg; rm -rf /", "x\x00"])
def test_requirement_validation(bad: str) -> None:
    with pytest.raises(InvalidRequirementError):
        check_requirement(bad)


def test_requirement_forms_accepted() -> None:
    for good in ["attrs", "attrs==23.1", "pkg[extra]>=1,<2", "/tmp/x-1.0-py3-none-any.whl"]:
        assert check_requirement(good) == good


@needs_subprocess  # pip in a subprocess; Pyodide installs with micropip (tests/pyodide)
async def test_install_packages_then_import(harness: KernelHarness, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "amphi_probe_pkg")
    try:
        mark = harness.mark()
        harness.send(protocol.InstallPackages(packages=[str(wheel), str(tmp_path / "missing-1.0-py3-none-any.whl"), "--upgrade"], request_id="r1"))
        result = await harness.wait_for(lambda n: isinstance(n, protocol.PackagesInstalled), mark, timeout=150)
        assert result.request_id == "r1"
        assert result.installed == [str(wheel)]
        assert set(result.failed) == {str(tmp_path / "missing-1.0-py3-none-any.whl"), "--upgrade"}
        assert all(reason for reason in result.failed.values())
        notes = await harness.execute({"use": "import amphi_probe_pkg\namphi_probe_pkg.ANSWER"})
        assert outputs(notes, "use") == ["42"]
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "amphi_probe_pkg"], capture_output=True, timeout=120, check=False)
