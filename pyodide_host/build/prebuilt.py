"""Our Pyodide wheel as *package data*: ``pyodide_host/prebuilt/`` holds the wheel that
:func:`pyodide_host.build.our_wheel.build_our_wheel` writes (bytecode compiled inside Pyodide),
so that an installed amphikernel exports sites without Node.js.

``python -m pyodide_host.build --prebuilt`` (``make pyodide-dist``) writes it with a manifest
(``prebuilt/manifest.json``) naming the digest of the sources it was built from
(:func:`sources_digest`).  ``setup.py`` refuses to build a wheel or an sdist while the
prebuilt wheel is missing or stale (:func:`check_prebuilt`), and the export uses it only when
it matches the sources next to it.

This module is loaded by ``setup.py`` by file path, in the build backend's environment: it
imports the standard library only, and nothing of the package.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

__all__ = [
    "MANIFEST",
    "OUR_EXCLUDED",
    "OUR_NAME",
    "OUR_PACKAGES",
    "PREBUILT_DIR",
    "check_prebuilt",
    "package_sources",
    "prebuilt_wheel",
    "pyodide_pin",
    "sources_digest",
]

ROOT = Path(__file__).resolve().parents[2]
"""The directory holding ``lifecycle/`` and ``pyodide_host/`` (a checkout, an unpacked sdist,
or ``site-packages``)."""

PREBUILT_DIR = ROOT / "pyodide_host" / "prebuilt"
MANIFEST = "manifest.json"

OUR_NAME = "amphikernel"
OUR_PACKAGES = ("lifecycle", "pyodide_host")
OUR_EXCLUDED = ("pyodide_host/build/", "pyodide_host/export/", "pyodide_host/islands/")
"""CPython-only tooling left out of the Pyodide wheel (path prefixes)."""

DIGEST_VERSION = 1
"""Bumped when what :func:`sources_digest` covers changes."""


def package_sources(root: Path = ROOT) -> list[tuple[str, Path]]:
    """``(path inside the wheel, file)`` for every module of our Pyodide wheel, sorted: the
    ``.py`` files of :data:`OUR_PACKAGES` that lie in Python packages (every folder up to the
    top has an ``__init__.py``, as setuptools ships them), minus :data:`OUR_EXCLUDED`."""
    out = []
    for package in OUR_PACKAGES:
        top = root / package
        for path in sorted(top.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if "__pycache__" in rel or rel.startswith(OUR_EXCLUDED):
                continue
            folder = path.parent
            if all((p / "__init__.py").is_file() for p in [folder, *folder.parents] if p.is_relative_to(top)):
                out.append((rel, path))
    return out


def pyodide_pin(root: Path = ROOT) -> tuple[str, str]:
    """``(version, sha512 integrity)`` of the npm ``pyodide`` package pinned by
    ``pyodide_host/npm/package-lock.json``.

    Raises:
        OSError, KeyError, ValueError: the lock file is missing or does not pin ``pyodide``.
    """
    lock = json.loads((root / "pyodide_host" / "npm" / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"]["node_modules/pyodide"]
    return str(entry["version"]), str(entry["integrity"])


def project_version(root: Path = ROOT) -> str | None:
    """The version in ``pyproject.toml`` (a checkout or an sdist), or ``None`` without one."""
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def sources_digest(version: str, root: Path = ROOT) -> str:
    """Hex SHA-256 over what the Pyodide wheel is made of: ``version``, the modules
    (:func:`package_sources`), the bytecode compile tools and the pinned Pyodide version."""
    digest = hashlib.sha256(f"{DIGEST_VERSION}:{version}:{pyodide_pin(root)[0]}".encode())
    for rel, path in package_sources(root):
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for tool in ("pyodide_host/build/compile_in_pyodide.py", "pyodide_host/node/compile_wheel.mjs"):
        digest.update((root / tool).read_bytes())
    return digest.hexdigest()


def prebuilt_wheel(root: Path = ROOT) -> tuple[Path | None, dict]:
    """``(wheel path or None, manifest)`` of the prebuilt wheel under ``root``."""
    folder = root / "pyodide_host" / "prebuilt"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        wheel = folder / manifest["wheel"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}
    return (wheel if wheel.is_file() else None), manifest


def check_prebuilt(version: str, root: Path = ROOT) -> str | None:
    """``None`` when the prebuilt wheel under ``root`` exists, is intact and was built from
    the sources beside it for ``version``; otherwise one line saying what is wrong and how to
    fix it."""
    wheel, manifest = prebuilt_wheel(root)
    fix = "run `make pyodide-dist` (or `python -m pyodide_host.build --prebuilt`; needs Node.js) in the source tree"
    if wheel is None:
        return f"the prebuilt Pyodide wheel (pyodide_host/prebuilt/) is missing: {fix}"
    if hashlib.sha256(wheel.read_bytes()).hexdigest() != manifest.get("sha256"):
        return f"the prebuilt Pyodide wheel {wheel.name} does not match its manifest: {fix}"
    if manifest.get("sources") != sources_digest(version, root):
        return f"the prebuilt Pyodide wheel {wheel.name} was built from other sources: {fix}"
    return None


def write_prebuilt(wheel: Path, version: str, root: Path = ROOT) -> Path:
    """Copy ``wheel`` into ``pyodide_host/prebuilt/`` with its manifest (replacing an older
    one); nothing is written when it is already there.  Returns the copy."""
    folder = root / "pyodide_host" / "prebuilt"
    data = wheel.read_bytes()
    manifest = {
        "wheel": wheel.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "sources": sources_digest(version, root),
        "pyodide": pyodide_pin(root)[0],
    }
    target = folder / wheel.name
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    if target.is_file() and (folder / MANIFEST).is_file() and (folder / MANIFEST).read_text() == text:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.whl"):
        if old.name != wheel.name:
            old.unlink()
    target.write_bytes(data)
    (folder / MANIFEST).write_text(text, encoding="utf-8")
    return target
