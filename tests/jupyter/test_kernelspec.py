"""``amphi jupyter install`` / ``uninstall``: the kernelspec a client finds (``kernel.json``),
installed only into the test-private Jupyter directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.protocol import PROTOCOL_VERSION
from tests.conformance.runners import REPO

pytestmark = pytest.mark.timeout(120)


def _amphi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "subprocess_host.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=dict(os.environ))  # fmt: skip


def test_installed_kernelspec(jupyter_home: Path) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("amphi")
    assert Path(spec.resource_dir).is_relative_to(jupyter_home)  # never the user's ~/.local
    assert spec.argv == [sys.executable, "-m", "subprocess_host.jupyter", "-f", "{connection_file}"]
    assert (spec.language, spec.interrupt_mode) == ("python", "message")
    assert spec.metadata["amphikernel"]["protocol"] == PROTOCOL_VERSION
    assert spec.metadata["amphikernel"]["semantics"] == "script"


def test_cli_install_and_uninstall(jupyter_home: Path) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    done = _amphi("jupyter", "install", "--user", "--name", "amphi-cli", "--display-name", "Reactive!",
                  "--python", "/opt/py/bin/python3", "--semantics", "strict")  # fmt: skip
    assert done.returncode == 0, done.stderr
    path = Path(KernelSpecManager().find_kernel_specs()["amphi-cli"])
    assert path.is_relative_to(jupyter_home / "data")
    doc = json.loads((path / "kernel.json").read_text())
    assert doc["display_name"] == "Reactive!" and doc["interrupt_mode"] == "message"
    assert doc["argv"][-4:] == ["--python", "/opt/py/bin/python3", "--semantics", "strict"]
    assert _amphi("jupyter", "uninstall", "--name", "amphi-cli").returncode == 0
    assert "amphi-cli" not in KernelSpecManager().find_kernel_specs()
    missing = _amphi("jupyter", "uninstall", "--name", "amphi-cli")
    assert missing.returncode == 1 and "no Jupyter kernel named 'amphi-cli'" in missing.stderr
    bad = _amphi("jupyter", "install", "--user", "--name", "no spaces allowed")
    assert bad.returncode == 1 and "invalid kernel name" in bad.stderr


def test_sys_prefix_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--sys-prefix`` installs under ``sys.prefix/share/jupyter/kernels`` (a scratch prefix
    here, so the dev venv is left alone)."""
    from subprocess_host.cli import main

    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert main(["jupyter", "install", "--sys-prefix", "--name", "amphi-prefix"]) == 0
    doc = json.loads((tmp_path / "share" / "jupyter" / "kernels" / "amphi-prefix" / "kernel.json").read_text())
    assert doc["argv"][:3] == [sys.executable, "-m", "subprocess_host.jupyter"]


def test_bridge_rejects_a_bad_connection_file(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "subprocess_host.jupyter", "-f", str(tmp_path / "c.json")],
                          capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert done.returncode == 2 and "not a Jupyter connection file" in done.stderr
