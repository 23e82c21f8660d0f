"""The memory snapshot of a site (:func:`add_memory_snapshot`): what a page's worker restores
instead of booting Pyodide and importing our packages (see :mod:`pyodide_host.build.snapshot`
for what it holds, how its size and determinism are controlled and what is renewed on
restore).  ``amphi export html-wasm`` and the islands runtime (:func:`pyodide_host.islands.install_runtime`)
add one to the runtime folder they write; without Node.js, or when it cannot be made, the site
is written without one (a notice says why) and pages boot Python as usual.

CPython only; imports the standard library, :mod:`pyodide_host.build` and the sibling modules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pyodide_host.build.common import normalize
from pyodide_host.build.snapshot import (
    SIDECAR,
    SNAPSHOT_FILE,
    SnapshotError,
    SnapshotInfo,
    make_memory_snapshot,
)
from pyodide_host.export.common import Progress, report
from pyodide_host.export.notebook import _imported_names
from pyodide_host.export.runtime import Notice

__all__ = ["SnapshotInfo", "add_memory_snapshot", "lock_packages_for", "notebook_imports", "package_imports"]

NEVER_IMPORTED = frozenset({"__future__", "js", "pyodide_js", "micropip"})
"""Modules a snapshot never imports ahead of the notebook: JavaScript bridges (their objects
cannot be carried by a snapshot) and micropip (loaded on first use)."""


def notebook_imports(nb: Any) -> list[str]:
    """Every top-level module the code cells of ``nb`` (a :class:`lifecycle.notebook.Notebook`)
    import, standard library included, in first-use order, each once."""
    names: list[str] = []
    for cell in nb.cells:
        if cell.kind == "code":
            names += [n for n in _imported_names(cell.source) if n not in NEVER_IMPORTED]
    return list(dict.fromkeys(names))


def lock_packages_for(pyodide_dir: Path, imports: Iterable[str]) -> list[str]:
    """The packages of ``pyodide_dir/pyodide-lock.json`` that provide the import names
    ``imports`` (a lock entry's ``imports`` field), in lock order."""
    try:
        lock = json.loads((Path(pyodide_dir) / "pyodide-lock.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    wanted = set(imports)
    return [name for name, entry in lock.get("packages", {}).items() if wanted & set(entry.get("imports") or ())]


def add_memory_snapshot(
    pyodide_dir: Path,
    *,
    imports: Sequence[str] = (),
    packages: Sequence[str] = (),
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> SnapshotInfo | None:
    """Write the memory snapshot into a site's runtime folder.

    Args:
        pyodide_dir: the runtime folder (``RuntimeAssets.pyodide_index`` under the site).
        imports: module names to import into it (e.g. :func:`notebook_imports`); the lock
            packages providing them are loaded first, names nothing provides are skipped.
        packages: more lock packages to load (e.g. the worker's ``packages`` option).
        progress: ``progress(message, fraction)``.
        notice: called with one line when no snapshot could be made (the site still works).

    Returns:
        The :class:`SnapshotInfo`, or ``None`` when none was made.
    """
    pyodide_dir = Path(pyodide_dir)
    for stale in (SNAPSHOT_FILE, SIDECAR):
        (pyodide_dir / stale).unlink(missing_ok=True)
    load = list(dict.fromkeys(normalize(p) for p in ["amphikernel", *packages]))
    for_imports = [p for p in lock_packages_for(pyodide_dir, imports) if p not in load]
    report(progress, "making the Python memory snapshot (Node.js)", None)
    try:
        return make_memory_snapshot(pyodide_dir, packages=load, imports=list(imports), import_packages=for_imports)
    except SnapshotError as exc:
        if notice is not None:
            notice(f"no memory snapshot (pages start Python without one): {exc}")
        return None


def package_imports(pyodide_dir: Path, packages: Iterable[str]) -> list[str]:
    """The top-level import names of the lock packages ``packages`` (their lock ``imports``),
    for importing them into a snapshot."""
    try:
        lock = json.loads((Path(pyodide_dir) / "pyodide-lock.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = lock.get("packages", {})
    names: list[str] = []
    for package in packages:
        names += list(entries.get(normalize(package), {}).get("imports") or ())
    return list(dict.fromkeys(names))
