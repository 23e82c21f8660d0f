"""A test-private Jupyter installation: every Jupyter directory (data, config, runtime, path)
points into one temporary directory while this package's tests run, so the kernelspecs the tests
install never reach the user's own ``~/.local/share/jupyter``.

Kernelspecs (installed with :func:`subprocess_host.jupyter.kernelspec.install`, as ``amphi
jupyter install --user`` does, into the private data directory):

* ``amphi``: bridge and kernel on this interpreter (the dev venv: amphikernel importable);
* ``amphi-sci``: the bridge on this interpreter, the kernel on the scientific-stack venv
  ``.venv-kernels/sci-3.12`` (numpy, pandas, matplotlib, scikit-learn), when it exists.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.sci import SCI_VENV

_JUPYTER_VARS = ("JUPYTER_DATA_DIR", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR",
                 "JUPYTER_PLATFORM_DIRS", "JUPYTER_PREFER_ENV_PATH")  # fmt: skip


def sci_python() -> str | None:
    """The scientific-stack kernel interpreter, once ``make sci-venv`` finished."""
    python = SCI_VENV / "bin" / "python"
    return str(python) if (SCI_VENV / ".installed").is_file() and python.is_file() else None


@pytest.fixture(scope="package", autouse=True)
def jupyter_home() -> Iterator[Path]:
    """The private Jupyter directories, with the ``amphi`` (and ``amphi-sci``) kernelspecs."""
    pytest.importorskip("jupyter_client")
    from subprocess_host.jupyter.kernelspec import install

    root = Path(tempfile.mkdtemp(prefix="amphi-jupyter-home-"))
    saved = {name: os.environ.get(name) for name in _JUPYTER_VARS}
    os.environ.update({
        "JUPYTER_DATA_DIR": str(root / "data"), "JUPYTER_PATH": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_PREFER_ENV_PATH": "0",
    })  # fmt: skip
    try:
        install(name="amphi", user=True)
        python = sci_python()
        if python is not None:
            install(name="amphi-sci", user=True, kernel_python=python, display_name="amphikernel (sci)")
        yield root
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(root, ignore_errors=True)
