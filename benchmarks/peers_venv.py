"""The peer's own cached virtual environment: marimo, pinned, on the same CPython as ours.

``python -m benchmarks.peers_venv`` creates it ahead of time; :func:`ensure_peer_venv` is what
``python -m benchmarks peers`` calls.  The venv lives under ``build/peers/`` (one per peer
version and interpreter), is created with ``python -m venv`` from the same interpreter the
amphikernel kernel venv was made from, and gets ``marimo==MARIMO_VERSION`` through pip (the
user's pip configuration, i.e. PyPI or its mirror).  A marker file records a completed install
so that a half-finished one is redone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARIMO_VERSION = "0.25.2"
"""The marimo release compared against (issue 18)."""


def base_python() -> Path:
    """The CPython both runtimes run on: the interpreter the ``.venv-kernels/3.12.1`` venv (or,
    failing that, this venv) was created from.

    Raises:
        RuntimeError: no such interpreter is found.
    """
    for venv in (REPO / ".venv-kernels" / "3.12.1", REPO / ".venv-kernels" / "3.11.7", Path(sys.prefix)):
        cfg = venv / "pyvenv.cfg"
        if cfg.is_file():
            for line in cfg.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "executable" and Path(value.strip()).is_file():
                    return Path(value.strip())
    raise RuntimeError("no base CPython found for the peer venv")


def kernel_python() -> Path:
    """Our kernel's interpreter on the same CPython as the peer (a venv with pyzmq + msgspec)."""
    base = base_python()
    for venv in sorted((REPO / ".venv-kernels").glob("3.*")):
        cfg = venv / "pyvenv.cfg"
        if cfg.is_file() and f"executable = {base}" in cfg.read_text():
            return venv / "bin" / "python"
    return Path(sys.executable)


def peer_venv_dir() -> Path:
    """Where the marimo venv lives: ``build/peers/marimo-<version>-py<major.minor.micro>``."""
    version = subprocess.run(
        [str(base_python()), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return REPO / "build" / "peers" / f"marimo-{MARIMO_VERSION}-py{version}"


def ensure_peer_venv(quiet: bool = True) -> Path:
    """Create (once) and return the peer venv's ``python``.

    Raises:
        subprocess.CalledProcessError: ``venv`` or ``pip install`` failed.
    """
    venv = peer_venv_dir()
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.is_file() and marker.read_text().strip() == MARIMO_VERSION and python.is_file():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(base_python()), "-m", "venv", "--clear", str(venv)], check=True)
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", f"marimo=={MARIMO_VERSION}"],
        check=True, stdout=output,
    )  # fmt: skip
    marker.write_text(MARIMO_VERSION + "\n")
    return python


if __name__ == "__main__":
    print(ensure_peer_venv(quiet=False))
