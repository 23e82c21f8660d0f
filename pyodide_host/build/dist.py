"""Step 4 of :mod:`pyodide_host.build`, second half: the dist directory, and
:func:`ensure_dist`, which runs every step.

The dist directory holds the runtime files of the npm package (:data:`RUNTIME_FILES`), the
wheels, and a ``pyodide-lock.json`` whose ``packages`` are exactly the wheels present
(:func:`write_runtime_dir`, also used by :mod:`pyodide_host.export`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from pyodide_host.build.common import (
    BUILD_VERSION,
    BuildError,
    Layout,
    default_layout,
    link_or_copy,
    log,
    sha256,
)
from pyodide_host.build.lock import lock_entries
from pyodide_host.build.our_wheel import build_our_wheel
from pyodide_host.build.runtime import RuntimeInfo, ensure_npm, runtime_info
from pyodide_host.build.wheels import RUNTIME_WHEELS, TEST_WHEELS, ensure_wheels

__all__ = ["RUNTIME_FILES", "assemble_dist", "ensure_dist", "write_runtime_dir"]

RUNTIME_FILES = (
    "pyodide.mjs",
    "pyodide.mjs.map",
    "pyodide.js",
    "pyodide.js.map",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide.d.ts",
    "ffi.d.ts",
    "package.json",
)
"""Files of the npm ``pyodide`` package copied into the dist directory (``pyodide-lock.json``
is rewritten, not copied)."""


def _dist_stamp(package: Path, wheels: list[Path]) -> str:
    digest = hashlib.sha256(f"v{BUILD_VERSION}".encode())
    digest.update(sha256(package / "pyodide-lock.json").encode())
    digest.update(sha256(package / "package.json").encode())
    for wheel in sorted(wheels, key=lambda p: p.name):
        digest.update(wheel.name.encode() + sha256(wheel).encode())
    return digest.hexdigest()


def assemble_dist(dist: Path, package: Path, wheels: list[Path], runtime: RuntimeInfo, *, quiet: bool = False) -> Path:
    """Write the dist directory (cached by a stamp over the runtime and every wheel)."""
    stamp_value = _dist_stamp(package, wheels)
    stamp = dist / ".amphi-stamp"
    if stamp.is_file() and stamp.read_text() == stamp_value and (dist / "pyodide-lock.json").is_file():
        return dist
    log(f"assembling {dist}", quiet)
    entries = lock_entries(wheels, runtime)
    tmp = dist.with_name(dist.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_runtime_dir(tmp, package, wheels, runtime, entries)
    (tmp / ".amphi-stamp").write_text(stamp_value)
    if dist.exists():
        shutil.rmtree(dist)
    os.replace(tmp, dist)
    return dist


def write_runtime_dir(
    target: Path, package: Path, wheels: list[Path], runtime: RuntimeInfo, entries: dict[str, dict]
) -> None:
    """Fill the existing directory ``target`` with the runtime files of the npm ``package``,
    ``wheels`` and a ``pyodide-lock.json`` listing ``entries`` (from :func:`lock_entries`).

    Raises:
        BuildError: the npm package lacks one of the files Pyodide cannot start without.
    """
    for name in RUNTIME_FILES:
        source = package / name
        if source.is_file():
            link_or_copy(source, target / name)
        elif name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
            raise BuildError(f"the pyodide npm package lacks {name}")
    for wheel in wheels:
        link_or_copy(wheel, target / wheel.name)
    lock = {"info": runtime.lock_info, "packages": {k: entries[k] for k in sorted(entries)}}
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")


def ensure_dist(tests: bool = False, *, layout: Layout | None = None, quiet: bool = False) -> Path:
    """Build (or find up to date) the dist directory and return it.

    Args:
        tests: add :data:`TEST_WHEELS` (``build/pyodide/dist-tests``).
        layout: where to build (default ``build/pyodide`` in the repository).
        quiet: no progress lines on stderr.

    Raises:
        BuildError: a step failed (one-line message).
    """
    layout = layout or default_layout()
    package = ensure_npm(layout, quiet=quiet)
    runtime = runtime_info(package)
    names = list(RUNTIME_WHEELS) + (list(TEST_WHEELS) if tests else [])
    wheels = ensure_wheels(layout, names, runtime, quiet=quiet)
    wheels.append(build_our_wheel(layout, package, quiet=quiet))
    return assemble_dist(layout.dist(tests), package, wheels, runtime, quiet=quiet)
