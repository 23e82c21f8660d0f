"""Step 1 of :mod:`pyodide_host.build`: the npm ``pyodide`` runtime.

``npm ci`` of ``pyodide_host/npm/`` (``pyodide@314.0.7``, lock committed) into
``build/pyodide/npm/`` (:func:`ensure_npm`; nothing is fetched from a CDN, only the npm
registry), and the runtime's interpreter and platform read from its ``pyodide-lock.json``
(:func:`runtime_info`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyodide_host.build.common import REPO, BuildError, Layout, last_line, log, sha256

__all__ = ["RuntimeInfo", "ensure_npm", "runtime_info"]


def ensure_npm(layout: Layout, *, quiet: bool = False) -> Path:
    """``npm ci`` the committed package into ``layout.npm`` (cached by the lock's hash).

    Returns:
        The installed ``node_modules/pyodide`` directory.
    """
    source = REPO / "pyodide_host" / "npm"
    lock = source / "package-lock.json"
    if not lock.is_file():
        raise BuildError(f"{lock} is missing (it pins the pyodide npm package)")
    stamp_value = sha256(source / "package.json") + sha256(lock)
    stamp = layout.npm / ".amphi-stamp"
    package = layout.pyodide_package
    if (
        stamp.is_file()
        and stamp.read_text() == stamp_value
        and all((package / f).is_file() for f in ("pyodide.mjs", "pyodide.asm.wasm"))
    ):
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found on PATH (needed to install the pyodide npm package)")
    layout.npm.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(source / name, layout.npm / name)
    log("npm ci (pyodide runtime)", quiet)
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=layout.npm,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"npm ci failed in {layout.npm}: {last_line(proc.stderr or proc.stdout)}")
    if not (package / "pyodide.mjs").is_file():
        raise BuildError(f"npm ci did not install pyodide into {package}")
    stamp.write_text(stamp_value)
    return package


@dataclass(frozen=True)
class RuntimeInfo:
    """The runtime's interpreter and platform, from its ``pyodide-lock.json``."""

    python: str  # "3.14.2"
    abi_version: str  # "2026_0"
    arch: str  # "wasm32"
    platform: str  # "emscripten_5_0_3"
    lock_info: dict

    @property
    def cp_tag(self) -> str:
        major, minor = self.python.split(".")[:2]
        return f"cp{major}{minor}"

    @property
    def python_version(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def wheel_platforms(self) -> tuple[str, ...]:
        """Platform tags a binary wheel for this runtime may carry."""
        return (f"pyemscripten_{self.abi_version}_{self.arch}", f"{self.platform}_{self.arch}")


def runtime_info(package: Path) -> RuntimeInfo:
    """The :class:`RuntimeInfo` of the npm package directory ``package``.

    Raises:
        BuildError: its ``pyodide-lock.json`` is missing or unreadable.
    """
    try:
        info = json.loads((package / "pyodide-lock.json").read_text())["info"]
        return RuntimeInfo(
            python=info["python"],
            abi_version=info["abi_version"],
            arch=info["arch"],
            platform=info["platform"],
            lock_info=info,
        )
    except (OSError, KeyError, ValueError) as exc:
        raise BuildError(f"cannot read the runtime's pyodide-lock.json in {package}: {exc}") from None
