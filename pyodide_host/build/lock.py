"""Step 4 of :mod:`pyodide_host.build`, first half: the ``pyodide-lock.json`` entries.

One entry per wheel (:func:`lock_entry`): the fields Pyodide's loader reads, with the wheel's
import names and its requirements evaluated for Pyodide's platform.  :func:`lock_entries`
checks that the wheels are exactly what the lock needs: a package the lock names but the
directory lacks would make Pyodide fall back to the CDN or 404.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pyodide_host.build.common import BuildError, normalize, sha256
from pyodide_host.build.runtime import RuntimeInfo
from pyodide_host.build.wheels import check_compatible, wheel_parts

__all__ = ["lock_entries", "lock_entry"]


def _wheel_metadata(path: Path) -> tuple[str, list[str], list[str]]:
    """``(project name, top-level import names, Requires-Dist lines)`` of a wheel."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None)
        if meta_name is None:
            raise BuildError(f"{path.name} has no .dist-info/METADATA")
        meta = zf.read(meta_name).decode("utf-8", "replace")
        top_name = meta_name.replace("METADATA", "top_level.txt")
        imports: set[str] = set()
        for name in names:
            first, _, rest = name.partition("/")
            if first.endswith((".dist-info", ".data")):
                continue
            if rest == "__init__.py":
                imports.add(first)  # a package
            elif not rest and first.endswith(".py"):
                imports.add(first[:-3])  # a top-level module
            elif not rest and first.endswith(".so"):
                imports.add(first.split(".", 1)[0])  # a top-level extension module
        if not imports and top_name in names:
            imports = {ln.strip() for ln in zf.read(top_name).decode().splitlines() if ln.strip()}
    project = ""
    requires = []
    for line in meta.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:"):
            project = line.split(":", 1)[1].strip()
        elif line.startswith("Requires-Dist:"):
            requires.append(line.split(":", 1)[1].strip())
    imports.discard("_virtualenv")
    return project, sorted(i for i in imports if i.isidentifier() and not i.startswith("__")), requires


def _pyodide_environment(runtime: RuntimeInfo) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": runtime.python,
        "os_name": "posix",
        "platform_machine": runtime.arch,
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": runtime.python,
        "platform_python_implementation": "CPython",
        "python_version": runtime.python_version,
        "sys_platform": "emscripten",
        "extra": "",
    }


def _runtime_depends(requires: list[str], runtime: RuntimeInfo, wheel: str) -> list[str]:
    """Requirement names that apply in Pyodide (markers evaluated, extras dropped)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - packaging is pinned in requirements-dev.txt
        raise BuildError("the 'packaging' module is needed to read wheel requirements") from None
    env = _pyodide_environment(runtime)
    out = []
    for text in requires:
        try:
            req = Requirement(text)
        except Exception as exc:
            raise BuildError(f"{wheel}: unreadable requirement {text!r}: {exc}") from None
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        out.append(normalize(req.name))
    return out


def lock_entry(path: Path, runtime: RuntimeInfo) -> tuple[str, dict]:
    """``(lock key, entry)`` for one wheel: the fields Pyodide's loader reads."""
    check_compatible(path.name, runtime)
    name, version, _ = wheel_parts(path.name)
    project, imports, requires = _wheel_metadata(path)
    entry = {
        "name": project or name,
        "version": version,
        "file_name": path.name,
        "install_dir": "site",
        "sha256": sha256(path),
        "package_type": "package",
        "imports": imports,
        "depends": _runtime_depends(requires, runtime, path.name),
        "unvendored_tests": False,
        "shared_library": False,
    }
    return name, entry


def lock_entries(wheels: list[Path], runtime: RuntimeInfo) -> dict[str, dict]:
    """The ``pyodide-lock.json`` entries of ``wheels``, by package name.

    Raises:
        BuildError: two wheels for one package, or a wheel depends on a package that none of
            ``wheels`` provides (Pyodide would fall back to its CDN for it).
    """
    entries: dict[str, dict] = {}
    for wheel in wheels:
        key, entry = lock_entry(wheel, runtime)
        if key in entries:
            raise BuildError(f"two wheels for {key}: {entries[key]['file_name']} and {wheel.name}")
        entries[key] = entry
    for entry in entries.values():
        missing = [d for d in entry["depends"] if d not in entries]
        if missing:
            raise BuildError(f"{entry['file_name']} needs {', '.join(missing)}, which no wheel provides")
    return entries
