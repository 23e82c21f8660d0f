"""What a notebook brings to its site: the requirements it declares (PEP 723 header) and the
third-party modules it imports (:func:`notebook_requirements`), and the outputs of a run at
export time (:func:`outputs_frames`, :class:`VirtualFileCapture`) shown before Python is ready.

CPython only; imports the standard library, msgspec and :mod:`lifecycle`.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from pyodide_host.export.common import ExportError

__all__ = ["IN_RUNTIME", "OURS", "VirtualFileCapture", "notebook_requirements", "outputs_frames"]

OURS = frozenset({"lifecycle", "pyodide_host", "subprocess_host", "amphikernel"})
"""Import names that are ours (in the amphikernel wheel, or host-only)."""

IN_RUNTIME = frozenset({"msgspec", "micropip", "pyodide", "pyodide_js", "js", "_pyodide"})
"""Importable in every page without a wheel of the notebook's own."""


def _pep723_dependencies(header: str) -> list[str]:
    """``dependencies`` of a PEP 723 ``# /// script`` block in a notebook header."""
    match = re.search(r"^# /// script\s*$(?P<body>(?:\n#(?: .*)?$)+?)\n# ///\s*$", header, re.MULTILINE)
    if match is None:
        return []
    body = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in match["body"].strip("\n").splitlines())
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return []
    try:
        deps = tomllib.loads(body).get("dependencies", [])
    except tomllib.TOMLDecodeError as exc:
        raise ExportError(f"the notebook's PEP 723 block is not valid TOML: {exc}") from None
    return [str(d) for d in deps if isinstance(d, str)]


def _imported_names(source: str) -> list[str]:
    """Top-level package names a cell imports (IPython syntax, e.g. ``%matplotlib inline``,
    is turned into Python first, as the kernel does)."""
    from lifecycle.ipython_syntax import transform_cell

    try:
        tree = ast.parse(transform_cell(source))
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def notebook_requirements(nb: Any) -> tuple[list[str], list[str]]:
    """The requirements a notebook declares and the third-party imports it makes.

    Args:
        nb: a :class:`lifecycle.notebook.Notebook`.

    Returns:
        ``(declared, imported)``: the ``dependencies`` of its PEP 723 header, and the top-level
        import names of its code cells that are neither in the standard library, nor ours, nor
        in every Pyodide page (in first-use order, each once).
    """
    declared = _pep723_dependencies(nb.header)
    seen: list[str] = []
    stdlib = set(sys.stdlib_module_names)
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        for name in _imported_names(cell.source):
            if name in stdlib or name in OURS or name in IN_RUNTIME or name.startswith("_") or name in seen:
                continue
            seen.append(name)
    return declared, seen


def outputs_frames(nb: Any) -> bytes:
    """The outputs of a run (nbformat dicts in ``nb``'s cells) as a msgpack array of
    kernel notifications (``cell-output``, ``cell-console``, ``cell-error``)."""
    import msgspec

    from lifecycle import protocol

    notes: list[Any] = []
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                text = output.get("text", "")
                notes.append(protocol.CellConsole(cell_id=cell.id, stream="stderr" if output.get("name") == "stderr" else "stdout",
                                                  text="".join(text) if isinstance(text, list) else str(text)))
            elif kind in ("execute_result", "display_data"):
                notes.append(protocol.CellOutput(
                    cell_id=cell.id, data=dict(output.get("data", {})), metadata=dict(output.get("metadata", {})),
                    kind="result" if kind == "execute_result" else "display",
                ))
            elif kind == "error":
                tb = output.get("traceback", [])
                notes.append(protocol.CellError(
                    cell_id=cell.id, ename=str(output.get("ename", "")), evalue=str(output.get("evalue", "")),
                    traceback="\n".join(tb) if isinstance(tb, list) else str(tb),
                ))  # fmt: skip
    return msgspec.msgpack.encode(notes)


class VirtualFileCapture:
    """Keeps the bytes of the virtual files an export-time run creates (read from the kernel's
    shared memory as each ``virtual-file`` notice arrives), so the pre-rendered outputs'
    ``@file/`` URLs are served by the site until the browser's kernel has run the cells."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, note: Any) -> None:
        from lifecycle import protocol
        from lifecycle.virtual_files import read_shared

        if not isinstance(note, protocol.VirtualFileNotice):
            return
        if note.released:
            self.files.pop(note.url, None)
            return
        if note.shm_name:
            try:
                self.files[note.url] = read_shared(note.shm_name, note.size)
            except (OSError, ValueError):  # already gone: the output will show a broken link
                pass

    def write(self, site: Path) -> None:
        """Write each file at its URL's path under ``site`` (``@file/<id>-<name>``)."""
        from urllib.parse import unquote

        stale = site / "@file"
        if stale.exists():
            shutil.rmtree(stale)
        for url, data in self.files.items():
            rel = unquote(url)
            if not rel.startswith("@file/") or "/" in rel[len("@file/"):] or ".." in rel:
                continue
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
