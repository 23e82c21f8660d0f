"""The wheel and the per-interpreter virtual environments of the compatibility matrix.

* :func:`build_wheel`: our wheel, built once per run from a clean copy of the tree
  (:func:`tests.packaging.conftest.clean_copy`: the files git knows plus the web bundle and
  the prebuilt Pyodide wheel), with ``python -m build --wheel``.
* :func:`kernel_venv`: ``build/compat/venvs/<version>-<requirements hash>``: a venv on pyenv's
  CPython ``version`` with that wheel and :data:`EXTRA_PACKAGES` installed.  The wheel is
  keyed by a hash of its *contents* (member names and bytes, not zip timestamps): a rerun on
  an unchanged tree reuses every venv as it is; a changed tree reinstalls only the wheel
  (``--no-deps``); changed dependencies make a new venv.
* :func:`msgspec_venv`: the same with one msgspec version forced (scenario 11, version skew).

Every command runs as :func:`tests.packaging.conftest.user_env` makes it: no ``PYTHON*``
variables, no repository folder on ``PATH``, working directory outside the repository.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.packaging.conftest import clean_copy, pyenv_python, user_env

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "compat"
VENVS = CACHE / "venvs"
PYTHONS = ("3.10.13", "3.11.7", "3.12.1", "3.13.0")
"""The CPython kernel interpreters (pyenv versions)."""
EXTRA_PACKAGES = ("comm==0.2.3",)
"""Installed beside the wheel: ``comm`` is what widget libraries talk through (scenario 5's
binary buffers go through a real comm); the pin is requirements-dev.txt's."""
BUILD_TIMEOUT = 600
INSTALL_TIMEOUT = 600


class EnvError(RuntimeError):
    """Building the wheel or a venv failed (the message carries the command's output)."""


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=timeout, check=False)


def content_hash(wheel: Path) -> str:
    """SHA-256 (first 16 hex digits) over the wheel's member names and bytes."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()[:16]


def build_wheel() -> tuple[Path, str]:
    """Build the wheel from a clean copy; returns ``(wheel path under build/compat/,
    content hash)``.

    Raises:
        EnvError: ``python -m build`` failed.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="amphi-compat-build-") as tmp:
        base = Path(tmp)
        source = clean_copy(base / "src")
        out = base / "dist"
        proc = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)], base, BUILD_TIMEOUT)
        if proc.returncode != 0:
            raise EnvError(f"python -m build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        (built,) = out.glob("amphikernel-*.whl")
        key = content_hash(built)
        target = CACHE / key / built.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file():
            shutil.copy2(built, target)
    for old in CACHE.iterdir():  # wheels of older trees
        if old.is_dir() and old.name != key and len(old.name) == 16:
            shutil.rmtree(old, ignore_errors=True)
    return target, key


def requirements_hash(wheel: Path, extra: tuple[str, ...]) -> str:
    """SHA-256 (first 12 hex digits) of the wheel's ``Requires-Dist`` lines and ``extra``:
    the key of a venv's third-party contents."""
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = [ln for ln in archive.read(meta).decode().splitlines() if ln.startswith("Requires-Dist:")]
    return hashlib.sha256("\n".join([*lines, *extra]).encode()).hexdigest()[:12]


def _make(root: Path, version: str, wheel: Path, key: str, extra: tuple[str, ...]) -> Path:
    """A venv at ``root`` with ``wheel`` (content hash ``key``) and ``extra`` installed.  The
    venv is kept across runs; when only amphikernel changed (same requirements, other
    ``key``) just the wheel is reinstalled."""
    python = root / "bin" / "python"
    marker = root / ".compat-wheel"
    if python.is_file() and marker.is_file():
        if marker.read_text().strip() == key:
            return python
        proc = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                     "--force-reinstall", str(wheel)], root.parent, INSTALL_TIMEOUT)
        if proc.returncode == 0:
            marker.write_text(key + "\n")
            return python
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    created = _run([str(pyenv_python(version)), "-m", "venv", str(root)], root.parent, INSTALL_TIMEOUT)
    if created.returncode != 0:
        raise EnvError(f"python -m venv failed on {version}: {created.stderr}")
    installed = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), *extra],
                     root.parent, INSTALL_TIMEOUT)
    if installed.returncode != 0:
        raise EnvError(f"pip install {wheel.name} {' '.join(extra)} failed on {version}:\n{installed.stderr[-3000:]}")
    marker.write_text(key + "\n")
    return python


def kernel_venv(wheel: Path, key: str, version: str) -> Path:
    """The python of ``build/compat/venvs/<version>-<requirements hash>`` (made on first use,
    the wheel refreshed when its content hash ``key`` changed)."""
    name = f"{version}-{requirements_hash(wheel, EXTRA_PACKAGES)}"
    return _make(VENVS / name, version, wheel, key, EXTRA_PACKAGES)


def msgspec_venv(wheel: Path, key: str, version: str, msgspec: str) -> Path:
    """The python of a venv on ``version`` with the wheel and ``msgspec==<msgspec>``.

    Raises:
        EnvError: pip cannot install that combination (e.g. outside the declared range).
    """
    extra = (*EXTRA_PACKAGES, f"msgspec=={msgspec}")
    name = f"{version}-msgspec-{msgspec}-{requirements_hash(wheel, extra)}"
    return _make(VENVS / name, version, wheel, key, extra)


def prune(keep: list[Path]) -> None:
    """Remove the venvs under ``build/compat/venvs`` whose interpreter is not in ``keep``."""
    wanted = {p.parents[1].resolve() for p in keep}
    if VENVS.is_dir():
        for venv in VENVS.iterdir():
            if venv.is_dir() and venv.resolve() not in wanted:
                shutil.rmtree(venv, ignore_errors=True)


def installed_msgspec(python: Path) -> str:
    """``msgspec.__version__`` in that interpreter."""
    proc = _run([str(python), "-c", "import msgspec; print(msgspec.__version__)"], python.parents[2], 60)
    return proc.stdout.strip() or f"? ({proc.stderr.strip()[-200:]})"
