"""What every step of :mod:`pyodide_host.build` shares: where things are (the repository,
the :class:`Layout` of the build directory, the bytecode compile tools), :class:`BuildError`,
and small file helpers (hashing, name normalisation, hard links, progress lines).

CPython only, standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUILD_VERSION",
    "COMPILE_RUNNER",
    "COMPILE_SCRIPT",
    "REPO",
    "BuildError",
    "Layout",
    "default_layout",
    "last_line",
    "link_or_copy",
    "log",
    "normalize",
    "sha256",
]

REPO = Path(__file__).resolve().parents[2]
"""The repository root (this file is ``pyodide_host/build/common.py``)."""

BUILD_VERSION = 3
"""Bumped when the dist layout or the lock written here changes (invalidates every stamp)."""

COMPILE_SCRIPT = Path(__file__).resolve().parent / "compile_in_pyodide.py"
"""Compiles a pure wheel's bytecode; runs inside Pyodide."""

COMPILE_RUNNER = Path(__file__).resolve().parents[1] / "node" / "compile_wheel.mjs"
"""Boots Pyodide under Node and runs :data:`COMPILE_SCRIPT` on wheels."""


class BuildError(RuntimeError):
    """A build step failed; the message is one line saying what and why."""


@dataclass(frozen=True)
class Layout:
    """Where the build puts things (all under ``root``, default ``build/pyodide``)."""

    root: Path

    @property
    def npm(self) -> Path:
        return self.root / "npm"

    @property
    def pyodide_package(self) -> Path:
        return self.npm / "node_modules" / "pyodide"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def ours(self) -> Path:
        return self.root / "ours"

    def dist(self, tests: bool) -> Path:
        return self.root / ("dist-tests" if tests else "dist")


def default_layout() -> Layout:
    """The default build directory: ``build/pyodide`` in the repository."""
    return Layout(REPO / "build" / "pyodide")


def log(message: str, quiet: bool) -> None:
    """One progress line on stderr (``pyodide_host.build: ...``) unless ``quiet``."""
    if not quiet:
        print(f"pyodide_host.build: {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalize(name: str) -> str:
    """A project name normalised as in PEP 503 (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def last_line(text: str) -> str:
    """The line of a tool's output worth quoting in a one-line error (the last error line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERR" in ln.upper()]
    return (errors or lines or ["(no output)"])[-1]


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target``, or copy it where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
