"""Step 2 of :mod:`pyodide_host.build`: the wheels every dist holds besides ours.

``pip download`` of the wheels from PyPI for Pyodide's platform (``cp314`` /
``pyemscripten_2026_0_wasm32``; pure wheels match too) into ``build/pyodide/wheels/``
(:func:`ensure_wheels`).  Versions come from ``requirements-dev.txt`` (micropip is pinned
here: :data:`PINNED_HERE`), so CPython and Pyodide test with the same releases.  Wheels are
checked against the runtime's interpreter and platform ourselves (:func:`check_compatible`):
pyodide-lock's own check rejects the ``pyemscripten_<abi>_<arch>`` tag.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from pyodide_host.build.common import REPO, BuildError, Layout, last_line, log, normalize, sha256
from pyodide_host.build.pins import wheel_pin
from pyodide_host.build.runtime import RuntimeInfo

__all__ = [
    "PINNED_HERE",
    "RUNTIME_WHEELS",
    "TEST_WHEELS",
    "check_compatible",
    "ensure_wheels",
    "find_wheel",
    "pinned_versions",
    "wheel_parts",
]

RUNTIME_WHEELS = ("msgspec", "micropip")
"""Wheels every dist holds (besides ours)."""

TEST_WHEELS = (
    "pytest",
    "iniconfig",
    "packaging",
    "pluggy",
    "Pygments",
    "pytest-asyncio",
    "hypothesis",
    "sortedcontainers",
    "jedi",
    "parso",
)
"""Wheels added by ``--tests``: pytest and what the lifecycle tests need in Pyodide."""

PINNED_HERE = {"micropip": wheel_pin("micropip").version}  # type: ignore[union-attr]
"""Versions not in ``requirements-dev.txt`` (from :data:`pyodide_host.build.pins.RUNTIME_WHEEL_PINS`)."""


def pinned_versions(names: Iterable[str]) -> dict[str, str]:
    """``name -> version`` for each name, from ``requirements-dev.txt`` (or :data:`PINNED_HERE`).

    Raises:
        BuildError: a name is pinned nowhere.
    """
    pins: dict[str, str] = {normalize(k): v for k, v in PINNED_HERE.items()}
    requirements = REPO / "requirements-dev.txt"
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins.setdefault(normalize(name), version.strip())
    out = {}
    for name in names:
        version = pins.get(normalize(name))
        if version is None:
            raise BuildError(f"no pinned version for {name!r} in {requirements.name}")
        out[name] = version
    return out


def wheel_parts(filename: str) -> tuple[str, str, list[tuple[str, str, str]]]:
    """``(normalized name, version, [(interpreter, abi, platform), ...])`` of a wheel file name."""
    stem = filename[: -len(".whl")]
    parts = stem.split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"not a wheel file name: {filename}")
    name, version = parts[0], parts[1]
    pys, abis, plats = parts[-3], parts[-2], parts[-1]
    tags = [(p, a, pl) for p in pys.split(".") for a in abis.split(".") for pl in plats.split(".")]
    return normalize(name), version, tags


def check_compatible(filename: str, runtime: RuntimeInfo) -> None:
    """Accept pure wheels and binary wheels built for this runtime's interpreter and platform
    (``pyemscripten_<abi>_<arch>`` or ``<platform>_<arch>``).

    Raises:
        BuildError: the wheel cannot load in this runtime.
    """
    _, _, tags = wheel_parts(filename)
    cp = runtime.cp_tag
    pure_interpreters = {"py3", f"py{cp[2:]}", cp}
    for interpreter, abi, platform in tags:
        if platform == "any" and abi == "none" and interpreter in pure_interpreters:
            return
        if platform in runtime.wheel_platforms and interpreter == cp and abi in (cp, "abi3", "none"):
            return
    raise BuildError(
        f"{filename} does not fit the Pyodide runtime (Python {runtime.python_version}, "
        f"platform {runtime.wheel_platforms[0]})"
    )


def find_wheel(directory: Path, name: str, version: str) -> Path | None:
    """The wheel of ``name`` ``version`` in ``directory``, or ``None``."""
    wanted = normalize(name)
    for path in sorted(directory.glob("*.whl")):
        try:
            wname, wversion, _ = wheel_parts(path.name)
        except BuildError:
            continue
        if wname == wanted and wversion == version:
            return path
    return None


def ensure_wheels(layout: Layout, names: Iterable[str], runtime: RuntimeInfo, *, quiet: bool = False) -> list[Path]:
    """Download (once) the pinned wheels for ``names``; returns their paths.

    Raises:
        BuildError: pip failed, or a wheel pinned by hash
            (:data:`pyodide_host.build.pins.RUNTIME_WHEEL_PINS`) does not match its sha256.
    """
    pins = pinned_versions(names)
    layout.wheels.mkdir(parents=True, exist_ok=True)
    missing = {n: v for n, v in pins.items() if find_wheel(layout.wheels, n, v) is None}
    if missing:
        log("pip download " + " ".join(f"{n}=={v}" for n, v in missing.items()), quiet)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "-q",
            "--python-version", runtime.python_version, "--implementation", "cp",
            "--abi", runtime.cp_tag, "--abi", "abi3", "--abi", "none",
            "--platform", runtime.wheel_platforms[0], "--platform", "any",
            "-d", str(layout.wheels),
            *(f"{n}=={v}" for n, v in missing.items()),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"pip download failed: {last_line(proc.stderr or proc.stdout)}")
    paths = []
    for name, version in pins.items():
        path = find_wheel(layout.wheels, name, version)
        if path is None:
            raise BuildError(f"pip download did not produce a wheel for {name}=={version}")
        check_compatible(path.name, runtime)
        pin = wheel_pin(name)
        if pin is not None and pin.version == version and sha256(path) != pin.sha256:
            path.unlink()
            raise BuildError(f"{path.name} does not match its pinned sha256 {pin.sha256} (removed; run again)")
        paths.append(path)
    return paths
