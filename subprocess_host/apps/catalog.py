"""Which notebooks a multi-app server serves, at which URL paths (no HTTP, no processes).

:class:`AppCatalog` holds fixed apps (``with_app``) and dynamic directories
(``with_dynamic_directory``: every ``.py``/``.ipynb`` below the directory, found again on
every lookup, so added and removed files are picked up).  :func:`notebook_title` gives the
title the index page shows; :func:`check_notebook` finds what makes an app unservable (a
file that cannot be read, a cell with a syntax error).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

NOTEBOOK_SUFFIXES = (".py", ".ipynb")


class NotebookProblem(ValueError):
    """A notebook cannot be served (message says why, for the app's error page)."""


@dataclass(frozen=True)
class AppEntry:
    """One app: its URL path (``/sales``, no trailing slash) and notebook file."""

    path: str
    notebook: Path
    python: str | None = None


def normalise_path(path: str) -> str:
    """``"sales/"`` -> ``"/sales"``; ``"/"`` -> ``""``.

    Raises:
        ValueError: a path with ``..``, ``@`` segments, backslashes or control characters.
    """
    parts = [p for p in path.strip().split("/") if p]
    for part in parts:
        if part in (".", "..") or part.startswith("@") or "\\" in part or any(ord(c) < 32 for c in part):
            raise ValueError(f"invalid app path {path!r}")
    return "/" + "/".join(parts) if parts else ""


def scan_directory(directory: Path) -> list[Path]:
    """Every notebook below ``directory`` (recursively; hidden and ``__pycache__``
    directories skipped), sorted."""
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in files:
            if name.endswith(NOTEBOOK_SUFFIXES) and not name.startswith((".", "_")):
                found.append(Path(root) / name)
    return sorted(found)


def names_for(files: list[Path]) -> dict[str, Path]:
    """Distinct URL names for notebook files: their stems, or (when two stems clash) their
    paths relative to the files' common directory, without suffix."""
    stems = [f.stem for f in files]
    if len(set(stems)) == len(stems):
        return dict(zip(stems, files))
    common = Path(os.path.commonpath([str(f.resolve().parent) for f in files]))
    return {str(f.resolve().relative_to(common).with_suffix("")).replace(os.sep, "/"): f for f in files}


class AppCatalog:
    """Fixed apps and dynamic directories (see the module docstring)."""

    def __init__(self) -> None:
        self.fixed: dict[str, AppEntry] = {}
        self.directories: dict[str, tuple[Path, str | None]] = {}

    def add_app(self, path: str, notebook: Path, python: str | None = None) -> None:
        """Serve ``notebook`` at ``path``.

        Raises:
            ValueError: an invalid or already used path.
        """
        key = normalise_path(path)
        if key in self.fixed:
            raise ValueError(f"two apps at {path!r}")
        self.fixed[key] = AppEntry(key, Path(notebook).absolute(), python)

    def add_directory(self, path: str, directory: Path, python: str | None = None) -> None:
        """Serve every notebook below ``directory`` at ``path/<relative path without suffix>``.

        Raises:
            ValueError: an invalid path, or ``directory`` is not a directory.
        """
        if not Path(directory).is_dir():
            raise ValueError(f"{directory} is not a directory")
        self.directories[normalise_path(path)] = (Path(directory).absolute(), python)

    def entries(self) -> dict[str, AppEntry]:
        """Every app now, URL path -> entry (dynamic directories scanned again)."""
        result = dict(self.fixed)
        for prefix, (directory, python) in self.directories.items():
            for notebook in scan_directory(directory):
                name = str(notebook.relative_to(directory).with_suffix("")).replace(os.sep, "/")
                key = f"{prefix}/{name}"
                result.setdefault(key, AppEntry(key, notebook, python))
        return result

    def resolve(self, route_path: str) -> tuple[AppEntry, str] | None:
        """The app a request path belongs to and the rest of the path (``""``, ``"/"``,
        ``"/ws"``...), longest app path first; ``None`` if none."""
        entries = self.entries()
        probe = route_path.rstrip("/")
        while True:
            if probe in entries:
                return entries[probe], route_path[len(probe):]
            if not probe:
                return None
            probe = probe.rsplit("/", 1)[0]


def notebook_title(notebook: object, fallback: str) -> str:
    """The title of a notebook (:class:`lifecycle.notebook.Notebook`): its first markdown
    heading, else its first cell name, else ``fallback``."""
    cells = getattr(notebook, "cells", [])
    for cell in cells:
        if cell.kind == "markdown":
            for line in cell.source.splitlines():
                text = line.strip()
                if text.startswith("#"):
                    return text.lstrip("#").strip() or fallback
    for cell in cells:
        if cell.name:
            return str(cell.name)
    return fallback


def check_notebook(notebook: object) -> None:
    """Raise :class:`NotebookProblem` naming the first code cell with a syntax error
    (IPython syntax is rewritten first, as the kernel does)."""
    from lifecycle.ipython_syntax.core import transform_cell

    for index, cell in enumerate(getattr(notebook, "cells", [])):
        if cell.kind != "code":
            continue
        try:
            ast.parse(transform_cell(cell.source))
        except SyntaxError as exc:
            where = f"cell {index + 1}" + (f" ({cell.name})" if cell.name else "")
            raise NotebookProblem(f"syntax error in {where}, line {exc.lineno}: {exc.msg}") from None
