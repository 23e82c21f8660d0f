"""Notebook file formats: the percent ``.py`` format and Jupyter ``.ipynb`` (nbformat 4.5).

This package holds the shared cell model (:mod:`.model`: :class:`Cell`, :class:`Notebook`,
:class:`NotebookFormatError`), the notebook-level metadata and semantics (:mod:`.metadata`), the
percent format (:mod:`.percent`), edited cells written back into a percent file's own text
(:mod:`.splice`), ipynb (:mod:`.ipynb`) and reading, writing and converting files
(:mod:`.files`).  It is the bottom lifecycle layer next to :mod:`lifecycle.protocol`: it
imports the standard library and msgspec only (no other lifecycle module; never zmq, starlette,
uvicorn, js, pyodide, subprocess_host or pyodide_host).

Everything here is pure Python on top of the standard library and msgspec, so it imports inside
Pyodide.  nbformat is only used, when it happens to be installed, by :func:`validate_ipynb`.

Notebook-level data in a percent file: ``semantics`` lives in the PEP 723 block as
``[tool.amphikernel]`` / ``semantics = "strict"``.  In ``.ipynb`` files, the header and the
semantics are kept under ``metadata["amphikernel"]``, a cell's name and options under the cell's
``metadata["amphikernel"]``, so conversions in both directions keep them.
"""

from __future__ import annotations

from lifecycle.notebook.files import convert, read_notebook, write_notebook
from lifecycle.notebook.ipynb import dumps_ipynb, loads_ipynb, validate_ipynb
from lifecycle.notebook.metadata import Semantics
from lifecycle.notebook.model import (
    Cell,
    CellKind,
    Notebook,
    NotebookFormatError,
    OptionValue,
    new_cell_id,
)
from lifecycle.notebook.percent import dumps_percent, loads_percent

__all__ = [
    "Cell",
    "CellKind",
    "Notebook",
    "NotebookFormatError",
    "OptionValue",
    "Semantics",
    "convert",
    "dumps_ipynb",
    "dumps_percent",
    "loads_ipynb",
    "loads_percent",
    "new_cell_id",
    "read_notebook",
    "validate_ipynb",
    "write_notebook",
]
