"""Step 3 of :mod:`pyodide_host.build`: our own pure wheel,
``amphikernel-<version>-py3-none-any.whl``.

It holds the packages that run in Pyodide (``lifecycle`` and ``pyodide_host`` without the
CPython-only tooling: :data:`OUR_EXCLUDED`), depending on msgspec only.  Written directly (no
build backend), so it is byte-for-byte reproducible, then given bytecode compiled *inside
Pyodide* under Node (``pyodide_host/node/compile_wheel.mjs``): Pyodide never writes bytecode,
so without it every start compiles every module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from pyodide_host.build.common import (
    BUILD_VERSION,
    COMPILE_RUNNER,
    COMPILE_SCRIPT,
    REPO,
    BuildError,
    Layout,
    last_line,
    log,
)
from pyodide_host.build.compile_in_pyodide import write_wheel
from pyodide_host.build.prebuilt import OUR_EXCLUDED, OUR_NAME, OUR_PACKAGES, package_sources
from pyodide_host.build.prebuilt import project_version as _pyproject_version

__all__ = ["OUR_EXCLUDED", "OUR_NAME", "OUR_PACKAGES", "build_our_wheel", "our_sources", "project_version"]


def project_version() -> str:
    """The project's version, from ``pyproject.toml``.

    Raises:
        BuildError: no ``pyproject.toml`` with a version (not a source tree).
    """
    version = _pyproject_version(REPO)
    if version is None:
        raise BuildError(f"no version in {REPO / 'pyproject.toml'}")
    return version


def our_sources() -> list[tuple[str, Path]]:
    """``(path inside the wheel, file)`` for every module of our wheel, sorted
    (:func:`pyodide_host.build.prebuilt.package_sources` of the repository)."""
    return package_sources(REPO)


def build_our_wheel(layout: Layout, package: Path, *, quiet: bool = False) -> Path:
    """Write ``amphikernel-<version>-py3-none-any.whl`` with bytecode compiled in Pyodide
    (cached: rewritten only when a source, the compile step or the runtime changes).
    Contains :data:`OUR_PACKAGES`; requires msgspec only."""
    version = project_version()
    sources = our_sources()
    compile_script = COMPILE_SCRIPT
    compile_runner = COMPILE_RUNNER
    digest = hashlib.sha256(f"{BUILD_VERSION}:{version}".encode())
    for rel, path in sources:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for path in (compile_script, compile_runner, package / "pyodide-lock.json"):
        digest.update(path.read_bytes())
    key = digest.hexdigest()
    layout.ours.mkdir(parents=True, exist_ok=True)
    wheel = layout.ours / f"{OUR_NAME}-{version}-py3-none-any.whl"
    stamp = layout.ours / ".amphi-stamp"
    if wheel.is_file() and stamp.is_file() and stamp.read_text() == key:
        return wheel
    log(f"writing {wheel.name} (bytecode compiled in Pyodide)", quiet)
    source_wheel = layout.ours / "source" / wheel.name
    source_wheel.parent.mkdir(exist_ok=True)
    _write_source_wheel(source_wheel, version, sources)
    node = shutil.which("node")
    if node is None:
        raise BuildError("node not found on PATH (needed to compile our wheel's bytecode in Pyodide)")
    tmp = wheel.with_suffix(".tmp")
    proc = subprocess.run(
        [node, str(compile_runner), "--pyodide", str(package), "--in", str(source_wheel),
         "--out", str(tmp), "--script", str(compile_script)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not tmp.is_file():
        raise BuildError(f"compiling our wheel in Pyodide failed: {last_line(proc.stderr or proc.stdout)}")
    os.replace(tmp, wheel)
    stamp.write_text(key)
    return wheel


def _write_source_wheel(wheel: Path, version: str, sources: list[tuple[str, Path]]) -> None:
    dist_info = f"{OUR_NAME}-{version}.dist-info"
    files: list[tuple[str, bytes]] = [(rel, path.read_bytes()) for rel, path in sources]
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {OUR_NAME}\n"
        f"Version: {version}\n"
        "Summary: amphikernel's lifecycle core and Pyodide host (the subset that runs in Pyodide)\n"
        "Requires-Python: >=3.10\n"
        "Requires-Dist: msgspec>=0.19\n"
    )
    wheel_meta = "Wheel-Version: 1.0\nGenerator: pyodide_host.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{dist_info}/METADATA", metadata.encode()))
    files.append((f"{dist_info}/WHEEL", wheel_meta.encode()))
    files.append((f"{dist_info}/top_level.txt", "".join(p + "\n" for p in OUR_PACKAGES).encode()))
    tmp = wheel.with_suffix(".tmp")
    write_wheel(str(tmp), files, f"{dist_info}/RECORD")
    os.replace(tmp, wheel)
