"""Install what a cell imports before it runs (Pyodide host).

:class:`ImportInstaller` is a ``before_cell`` execution hook (:class:`lifecycle.kernel.Hooks`):
it reads the cell's import statements from its AST (already parsed by the dataflow graph),
finds the top-level modules that cannot be imported, and installs them before the cell's code
runs, printing progress to the cell's stderr:

1. a package of the runtime's lock that provides the module (``import_map``: import name ->
   lock package, from ``pyodide-lock.json``), loaded with ``pyodide.loadPackage``;
2. otherwise the PyPI project of that name (:data:`IMPORT_ALIASES` where they differ) with
   the session's installer (micropip: the site's own ``simple/`` index first, then the lock,
   then any other configured index).

A module imported unconditionally by the cell (a plain ``import`` statement at the top level of
the cell) that still cannot be installed fails the cell with a :class:`ModuleNotFoundError`
naming the package and the reason, without running the code.  Imports inside ``try``, ``if``,
functions... (optional dependencies) only get a warning.

Pure standard library at import time: tested on CPython with a fake installer.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

__all__ = ["IMPORT_ALIASES", "ImportInstaller", "cell_imports", "project_for_import"]

IMPORT_ALIASES: dict[str, str] = {
    "yaml": "PyYAML",
    "PIL": "pillow",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "attr": "attrs",
    "jwt": "PyJWT",
    "docx": "python-docx",
    "markdown_it": "markdown-it-py",
    "typing_extensions": "typing-extensions",
}
"""Top-level import name -> PyPI project, where they differ (the rest map to themselves)."""

_NEVER = frozenset({"js", "pyodide", "pyodide_js", "_pyodide", "micropip", "__future__"})


def project_for_import(name: str) -> str:
    """The PyPI project that provides top-level module ``name`` (a guess: usually the same)."""
    return IMPORT_ALIASES.get(name, name)


def cell_imports(tree: ast.AST) -> tuple[list[str], set[str]]:
    """Top-level module names a cell imports (absolute imports only), in order, and the subset
    imported unconditionally (statements directly in the cell's body)."""
    names: list[str] = []
    required: set[str] = set()
    body = getattr(tree, "body", [])
    direct = {id(node) for node in body}
    for node in ast.walk(tree):
        found: list[str] = []
        if isinstance(node, ast.Import):
            found = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found = [node.module.split(".")[0]]
        for name in found:
            if name not in names:
                names.append(name)
            if id(node) in direct:
                required.add(name)
    return names, required


def _importable(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


Installer = Callable[[list[str]], Awaitable[tuple[list[str], dict[str, str]]]]
LockLoader = Callable[[list[str]], Awaitable[Any]]


class ImportInstaller:
    """The ``before_cell`` hook (see the module docstring).

    Args:
        install: ``async (requirements) -> (installed, failed)`` (the session's micropip
            installer; ``failed`` maps requirement -> one-line reason).
        import_map: import name -> lock package name (from ``pyodide-lock.json``).
        load_from_lock: ``async (lock package names) -> None`` (``pyodide.loadPackage``);
            ``None``: go straight to ``install``.
        write: where progress lines go (default: ``sys.stderr``, the running cell's console).
    """

    def __init__(
        self,
        install: Installer,
        *,
        import_map: Mapping[str, str] | None = None,
        load_from_lock: LockLoader | None = None,
        write: Callable[[str], Any] | None = None,
    ) -> None:
        self.install = install
        self.import_map = dict(import_map or {})
        self.load_from_lock = load_from_lock
        self._write = write
        self.failed: dict[str, str] = {}
        """Projects that could not be installed in this session: project -> reason."""

    def write(self, text: str) -> None:
        if self._write is not None:
            self._write(text)
        else:
            sys.stderr.write(text)

    def missing(self, names: Iterable[str]) -> list[str]:
        """The names that cannot be imported now."""
        return [n for n in names if n not in _NEVER and not n.startswith("_") and not _importable(n)]

    async def __call__(self, kernel: Any, cell_id: str) -> None:
        node = kernel.graph.cells.get(cell_id)
        tree = getattr(getattr(node, "analysis", None), "tree", None)
        if tree is None:
            return
        names, required = cell_imports(tree)
        missing = self.missing(names)
        if not missing:
            return
        await self.ensure(missing, required)

    async def ensure(self, missing: list[str], required: set[str] | frozenset[str] = frozenset()) -> None:
        """Install the modules ``missing``; raise for those in ``required`` that still cannot
        be imported.

        Raises:
            ModuleNotFoundError: a required module's package could not be installed (the
                message names the package and why).
        """
        from_lock = sorted({self.import_map[n] for n in missing if n in self.import_map})
        if from_lock and self.load_from_lock is not None:
            self.write(f"Installing {', '.join(from_lock)} (from this site)…\n")
            try:
                await self.load_from_lock(from_lock)
            except Exception as exc:  # fall back to the installer below
                self.write(f"Loading {', '.join(from_lock)} failed: {exc}\n")
            importlib.invalidate_caches()
            missing = self.missing(missing)
        reasons: dict[str, str] = {}
        projects = {name: project_for_import(name) for name in missing}
        todo = sorted({p for n, p in projects.items() if p not in self.failed})
        if todo:
            self.write(f"Installing {', '.join(todo)}…\n")
            installed, failed = await self.install(todo)
            self.failed.update(failed)
            importlib.invalidate_caches()
            if installed:
                self.write(f"Installed {', '.join(installed)}.\n")
        for name, project in projects.items():
            if not _importable(name):
                reasons[name] = self.failed.get(project, "it installed, but provides no module of that name")
        for name, reason in reasons.items():
            project = projects[name]
            text = f"the package {project!r} (for `import {name}`) could not be installed in the browser: {reason}"
            if name in required:
                raise ModuleNotFoundError(f"No module named {name!r}: {text}", name=name)
            self.write(f"Warning: {text}\n")
