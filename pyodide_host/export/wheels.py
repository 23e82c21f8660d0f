"""Extra wheels of a site: the requirements of a notebook (or of documentation islands)
resolved from PyPI for Pyodide's platform (:func:`resolve_requirements`), and their bytecode
compiled inside Pyodide under Node (:func:`precompile`).

CPython only; imports the standard library and :mod:`pyodide_host.build`, and runs ``pip``
and ``node`` as subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from pyodide_host.build.common import (
    COMPILE_RUNNER,
    COMPILE_SCRIPT,
    Layout,
    last_line,
    normalize,
    sha256,
)
from pyodide_host.build.runtime import RuntimeInfo
from pyodide_host.build.wheels import check_compatible, wheel_parts
from pyodide_host.export.common import ExportError, requirement_name
from pyodide_host.export.pinned import fetch_pinned, split_pinned

__all__ = ["pip_download", "precompile", "resolvable", "resolve_requirements"]


def pip_download(requirements: Sequence[str], runtime: RuntimeInfo, dest: Path, *, deps: bool) -> tuple[bool, str]:
    """``pip download`` wheels for Pyodide's platform into ``dest``: ``(ok, pip's last error line)``."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q",
        "--python-version", runtime.python_version, "--implementation", "cp",
        "--abi", runtime.cp_tag, "--abi", "abi3", "--abi", "none",
        "--platform", runtime.wheel_platforms[0], "--platform", "any",
        "-d", str(dest),
        *([] if deps else ["--no-deps"]),
        *requirements,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode == 0, last_line(proc.stderr or proc.stdout)


def resolve_requirements(
    requirements: Sequence[str],
    runtime: RuntimeInfo,
    layout: Layout,
    *,
    exclude: Iterable[str] = (),
) -> list[Path]:
    """Download wheels for ``requirements`` and their dependencies for Pyodide's platform
    (pure wheels, or ``pyemscripten`` wheels of this runtime) from the configured package
    index (PyPI), cached in ``layout.root/export-wheels`` (a repeated export of the same
    requirements does not touch the network).  Requirements served by
    :data:`~pyodide_host.export.pinned.PINNED_WHEELS` (``anywidget``, ``wigglystuff``...)
    come from those hash-pinned files with their Pyodide dependencies instead, in
    ``layout.root/downloads``.

    Args:
        requirements: PEP 508 requirement strings (``"tabulate==0.9.0"``).
        runtime: the Pyodide runtime (interpreter and platform tags).
        layout: the build layout (cache location).
        exclude: normalised project names already provided (their wheels are dropped).

    Returns:
        One wheel per project, sorted by file name.

    Raises:
        ExportError: pip cannot resolve them (the message names pip's error), or a pinned
            wheel cannot be downloaded or does not match its sha256.
    """
    if not requirements:
        return []
    # anywidget, wigglystuff and what they need: hash-pinned files, not pip (see .pinned).
    pinned_names, requirements = split_pinned(requirements)
    pinned, unpinned = fetch_pinned(pinned_names, runtime, layout.root) if pinned_names else ([], [])
    pinned_projects = {wheel_parts(p.name)[0] for p in pinned}
    requirements = [*requirements, *(d for d in unpinned if d not in {requirement_name(r) for r in requirements})]
    excluded = {normalize(n) for n in exclude}
    if not requirements:
        return [p for p in pinned if wheel_parts(p.name)[0] not in excluded]
    cache = layout.root / "export-wheels"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(
        json.dumps([sorted(requirements), runtime.python, runtime.abi_version]).encode()
    ).hexdigest()[:24]
    manifest = cache / f"resolved-{key}.json"
    files: list[str] | None = None
    if manifest.is_file():
        files = json.loads(manifest.read_text())
        if not all((cache / f).is_file() for f in files):
            files = None
    if files is None:
        with tempfile.TemporaryDirectory(prefix="amphi-pip-") as tmp:
            ok, why = pip_download(list(requirements), runtime, Path(tmp), deps=True)
            if not ok:
                raise ExportError(f"cannot get wheels for {', '.join(requirements)} for Pyodide: {why}")
            files = sorted(p.name for p in Path(tmp).glob("*.whl"))
            for name in files:
                shutil.copyfile(Path(tmp) / name, cache / name)
        manifest.write_text(json.dumps(files))
    out = [p for p in pinned if wheel_parts(p.name)[0] not in excluded]
    for name in files:
        project, _, _ = wheel_parts(name)
        if project in excluded or project in pinned_projects:
            continue
        check_compatible(name, runtime)
        out.append(cache / name)
    return sorted(out, key=lambda p: p.name)


def precompile(wheels: list[Path], package: Path, layout: Layout, *, quiet: bool = True) -> list[Path]:
    """Pure wheels with bytecode compiled inside Pyodide (one Node run for all that are not
    cached yet); binary wheels are returned unchanged, and so is every wheel when ``node`` is
    not installed (Pyodide then compiles their modules when they are first imported).

    Raises:
        ExportError: the Node run failed.
    """
    node = shutil.which("node")
    if node is None:
        return list(wheels)
    script = COMPILE_SCRIPT
    runner = COMPILE_RUNNER
    tool_key = hashlib.sha256(
        script.read_bytes() + runner.read_bytes() + (package / "pyodide-lock.json").read_bytes()
    ).hexdigest()[:16]
    out: list[Path] = []
    todo: list[tuple[Path, Path]] = []
    for wheel in wheels:
        if not wheel.name.endswith("-none-any.whl"):
            out.append(wheel)
            continue
        target = layout.root / "compiled" / f"{sha256(wheel)[:24]}-{tool_key}" / wheel.name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            todo.append((wheel, target))
        out.append(target)
    if todo:
        with tempfile.TemporaryDirectory(prefix="amphi-compile-") as tmp:
            pairs = [(str(src), str(Path(tmp) / f"{i}.whl")) for i, (src, _) in enumerate(todo)]
            (Path(tmp) / "pairs.json").write_text(json.dumps(pairs))
            proc = subprocess.run(
                [node, str(runner), "--pyodide", str(package), "--pairs", str(Path(tmp) / "pairs.json"),
                 "--script", str(script)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise ExportError(f"precompiling wheels in Pyodide failed: {last_line(proc.stderr or proc.stdout)}")
            for (_, compiled), (_, target) in zip(pairs, todo):
                os.replace(compiled, target)
    return out


def resolvable(requirement: str, runtime: RuntimeInfo) -> tuple[bool, str]:
    """Whether pip finds a wheel of ``requirement`` (without dependencies) for Pyodide: ``(ok, why)``."""
    with tempfile.TemporaryDirectory(prefix="amphi-probe-") as tmp:
        return pip_download([requirement], runtime, Path(tmp), deps=False)
