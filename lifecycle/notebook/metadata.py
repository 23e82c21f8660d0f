"""Notebook-level data: our metadata namespace and the notebook's semantics.

Notebook-level data in a percent file: ``semantics`` lives in the PEP 723 block as
``[tool.amphikernel]`` / ``semantics = "strict"``.  In ``.ipynb`` files, the header and the
semantics are kept under ``metadata["amphikernel"]``, a cell's name and options under the cell's
``metadata["amphikernel"]``, so conversions in both directions keep them.

Standard library only.
"""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = ["Semantics"]

Semantics = Literal["script", "strict"]

_NAMESPACE = "amphikernel"
"""Key of our entries in notebook and cell metadata (namespaced, as nbformat recommends)."""

_CODING = re.compile(r"[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")

_SEMANTICS_ENTRY = re.compile(r"""\s*semantics\s*=\s*["'](?P<value>[^"']*)["']""")


def _metadata_semantics(metadata: dict[str, Any]) -> Semantics | None:
    entry = metadata.get(_NAMESPACE)
    value = entry.get("semantics") if isinstance(entry, dict) else None
    return value if value in ("script", "strict") else None


def _locate_semantics(lines: list[str]) -> tuple[tuple[int, int] | None, int | None, int | None]:
    """In header lines: the PEP 723 script block (start, end), our table line, our entry line."""
    start = None
    for i, line in enumerate(lines):
        if start is None:
            if line.rstrip() == "# /// script":
                start = i
        elif line.rstrip() == "# ///":
            break
        elif not line.startswith("#"):
            start = None
    else:
        return None, None, None
    table = None
    for j in range(start + 1, i):
        content = lines[j][1:].strip()
        if content.startswith("["):
            if table is not None:
                break
            if content.replace(" ", "") == "[tool.amphikernel]":
                table = j
        elif table is not None and _SEMANTICS_ENTRY.match(content):
            return (start, i), table, j
    return (start, i), table, None


def _header_semantics(header: str) -> Semantics | None:
    lines = header.split("\n")
    entry = _locate_semantics(lines)[2]
    if entry is None:
        return None
    match = _SEMANTICS_ENTRY.match(lines[entry][1:].strip())
    value = match["value"] if match else None
    return value if value in ("script", "strict") else None  # type: ignore[return-value]


def _set_header_semantics(header: str, value: Semantics) -> str:
    lines = header.split("\n")
    block, table, entry = _locate_semantics(lines)
    line = f'# semantics = "{value}"'
    if entry is not None:
        lines[entry] = line
    elif table is not None:
        lines.insert(table + 1, line)
    elif block is not None:
        lines[block[1] : block[1]] = ["# [tool.amphikernel]", line]
    else:
        at = 0
        while at < min(2, len(lines) - 1) and (
            (at == 0 and lines[0].startswith("#!")) or _CODING.match(lines[at])
        ):
            at += 1
        new = ["# /// script", "# [tool.amphikernel]", line, "# ///"]
        if not (at < len(lines) - 1 and not lines[at].strip()):
            new.append("")
        lines[at:at] = new
    return "\n".join(lines)
