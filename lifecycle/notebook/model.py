"""The shared cell model: :class:`Cell`, :class:`Notebook`, cell ids and the format error."""

from __future__ import annotations

import os
import secrets
import string
from typing import Any, Literal

import msgspec

from lifecycle.notebook.metadata import (
    _NAMESPACE,
    Semantics,
    _header_semantics,
    _metadata_semantics,
)

__all__ = [
    "Cell",
    "CellKind",
    "Notebook",
    "NotebookFormatError",
    "OptionValue",
    "new_cell_id",
]

CellKind = Literal["code", "markdown", "raw"]
OptionValue = str | bool | int | float

_ID_ALPHABET = string.ascii_letters + string.digits


def new_cell_id() -> str:
    """Return a fresh cell id: 10 random ASCII letters/digits (URL-safe, a valid nbformat id).

    Uniform over the 62 characters: random bytes below 248 (= 4 x 62) are taken modulo 62,
    one ``os.urandom`` call per id in practice (opening a 1,000-cell file makes 1,000)."""
    out = ""
    while len(out) < 10:
        out += "".join(_ID_ALPHABET[b % 62] for b in secrets.token_bytes(16) if b < 248)
    return out[:10]


class NotebookFormatError(ValueError):
    """A notebook file, or a notebook to be written, that the formats cannot represent.

    ``path``, ``line`` (1-based) and ``cell`` (0-based index) say where, when known, and are
    part of the message: ``nb.ipynb:3: invalid JSON ...`` or ``nb.ipynb: cells[4]: ...``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        cell: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.cell = cell
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message

    def _at(self, path: str | os.PathLike[str]) -> NotebookFormatError:
        """Add the file name to this error (in place) and return it."""
        self.path = os.fspath(path)
        self.args = (self._render(),)
        return self


class Cell(msgspec.Struct):
    """One notebook cell.

    ``outputs`` are nbformat-4 output dicts (``stream``, ``execute_result``, ``display_data``,
    ``error``); multi-line text is a ``str`` and binary MIME payloads (``image/png``...) are
    ``bytes`` after reading, and may be given as either.  ``metadata`` is the ipynb cell
    metadata; percent files do not carry it.
    """

    id: str
    kind: CellKind
    source: str
    name: str | None = None
    options: dict[str, OptionValue] = {}
    outputs: list[dict[str, Any]] = []
    execution_count: int | None = None
    metadata: dict[str, Any] = {}


class Notebook(msgspec.Struct):
    """A notebook: its cells, the verbatim header of a percent file and ipynb metadata."""

    cells: list[Cell] = []
    header: str = ""
    metadata: dict[str, Any] = {}

    @property
    def semantics(self) -> Semantics:
        """``"script"`` (default) or ``"strict"``: from ``metadata``, else the PEP 723 block."""
        return _metadata_semantics(self.metadata) or _header_semantics(self.header) or "script"

    @semantics.setter
    def semantics(self, value: Semantics) -> None:
        if value not in ("script", "strict"):
            raise ValueError(f"semantics must be 'script' or 'strict', not {value!r}")
        entry = self.metadata.get(_NAMESPACE)
        entry = dict(entry) if isinstance(entry, dict) else {}
        entry["semantics"] = value
        self.metadata = {**self.metadata, _NAMESPACE: entry}
