"""Jupyter ``.ipynb`` (nbformat 4, written as 4.5): :func:`loads_ipynb`, :func:`dumps_ipynb`
and :func:`validate_ipynb`.

nbformat is only used, when it happens to be installed, by :func:`validate_ipynb`.  In ``.ipynb``
files, the percent header and the semantics are kept under ``metadata["amphikernel"]``, a cell's
name and options under the cell's ``metadata["amphikernel"]``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

import msgspec

from lifecycle.notebook.metadata import _NAMESPACE
from lifecycle.notebook.model import Cell, CellKind, Notebook, NotebookFormatError, new_cell_id

__all__ = ["dumps_ipynb", "loads_ipynb", "validate_ipynb"]

_NBFORMAT_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_OUTPUT_KEYS = {
    "stream": ("name", "text"),
    "display_data": ("data", "metadata"),
    "execute_result": ("data", "metadata", "execution_count"),
    "error": ("ename", "evalue", "traceback"),
}


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _is_binary_mime(mime: str) -> bool:
    return (mime.startswith("image/") and not mime.endswith("+xml")) or mime == "application/pdf"


def loads_ipynb(text: str | bytes) -> Notebook:
    """Parse a Jupyter notebook, nbformat 4.0 to 4.5 (JSON as ``str`` or UTF-8 ``bytes``).

    Cell ids are kept (fresh ones for cells without one, or with a repeated one); ``source``
    may be a string or a list of strings; unknown cell types become ``raw``.  Outputs keep
    their nbformat-4 shape with multi-line text joined to one ``str`` and binary MIME payloads
    (``image/png``...) base64-decoded to ``bytes``.  Our own metadata entries become
    ``Notebook.header`` and ``Cell.name``/``Cell.options``.

    Raises :class:`NotebookFormatError`: invalid JSON (with its line; or nested too deeply),
    not UTF-8, nbformat other than 4,
    ``cells`` not a list, a cell or output that is not an object, a ``source`` or ``metadata``
    of the wrong type.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookFormatError(
            f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from exc
    except UnicodeDecodeError as exc:
        raise NotebookFormatError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except RecursionError:
        raise NotebookFormatError("invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise NotebookFormatError(f"a notebook is a JSON object, not {_json_type(doc)}")
    major = doc.get("nbformat")
    if type(major) is not int:
        raise NotebookFormatError("missing or invalid 'nbformat' version (expected 4)")
    if major != 4:
        raise NotebookFormatError(
            f"nbformat {major} is not supported: only nbformat 4 (4.0-4.5) is read"
            + ("; upgrade it with `jupyter nbconvert --to notebook`" if major < 4 else "")
        )
    metadata = _object(doc.get("metadata", {}), "metadata", None)
    raw_cells = doc.get("cells")
    if not isinstance(raw_cells, list):
        raise NotebookFormatError(f"'cells' must be a list, not {_json_type(raw_cells)}")
    seen: set[str] = set()
    cells = [_cell_from_json(raw, index, seen) for index, raw in enumerate(raw_cells)]
    metadata = dict(metadata)
    extra = _pop_namespace(metadata, ("header",))
    header = extra.get("header")
    return Notebook(
        cells=cells, header=header if isinstance(header, str) else "", metadata=metadata
    )


def _cell_from_json(raw: object, index: int, seen: set[str]) -> Cell:
    where = f"cells[{index}]"
    if not isinstance(raw, dict):
        raise NotebookFormatError(f"{where} is not an object but {_json_type(raw)}", cell=index)
    cell_type = raw.get("cell_type")
    kind: CellKind = cell_type if cell_type in ("code", "markdown", "raw") else "raw"
    source = _multiline(raw.get("source", ""), f"{where}.source", index)
    metadata = dict(_object(raw.get("metadata", {}), f"{where}.metadata", index))
    extra = _pop_namespace(metadata, ("name", "options"))
    name = extra.get("name") if isinstance(extra.get("name"), str) else None
    options = extra.get("options")
    if not (isinstance(options, dict) and all(_is_option(k, v) for k, v in options.items())):
        options = {}
    cell_id = raw.get("id")
    if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
        cell_id = new_cell_id()
    seen.add(cell_id)
    outputs: list[dict[str, Any]] = []
    execution_count = None
    if kind == "code":
        raw_outputs = raw.get("outputs", [])
        if not isinstance(raw_outputs, list):
            raise NotebookFormatError(f"{where}.outputs must be a list", cell=index)
        outputs = [
            _output_from_json(output, f"{where}.outputs[{n}]", index)
            for n, output in enumerate(raw_outputs)
        ]
        count = raw.get("execution_count")
        execution_count = count if type(count) is int else None
    return Cell(
        cell_id,
        kind,
        source,
        name=name,
        options=dict(options),
        outputs=outputs,
        execution_count=execution_count,
        metadata=metadata,
    )


def _is_option(key: object, value: object) -> bool:
    return isinstance(key, str) and isinstance(value, (str, bool, int, float))


def _pop_namespace(metadata: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Take ``keys`` out of ``metadata["amphikernel"]`` (dropping it when it ends up empty)."""
    entry = metadata.get(_NAMESPACE)
    if not isinstance(entry, dict):
        return {}
    entry = dict(entry)
    taken = {key: entry.pop(key) for key in keys if key in entry}
    if entry:
        metadata[_NAMESPACE] = entry
    else:
        del metadata[_NAMESPACE]
    return taken


def _output_from_json(raw: object, where: str, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("output_type"), str):
        raise NotebookFormatError(
            f"{where} is not an output object with an output_type", cell=index
        )
    out = dict(raw)
    if out["output_type"] == "stream" and "text" in out:
        out["text"] = _multiline(out["text"], f"{where}.text", index)
    if isinstance(out.get("data"), dict):
        data = {}
        for mime, value in out["data"].items():
            if isinstance(value, list) and not _is_json_mime(mime):
                value = _multiline(value, f"{where}.data[{mime!r}]", index)
            if isinstance(value, str) and _is_binary_mime(mime):
                with contextlib.suppress(ValueError):
                    value = _b64decode(value)
            data[mime] = value
        out["data"] = data
    return out


def _b64decode(value: str) -> bytes:
    return base64.b64decode("".join(value.split()), validate=True)


def _multiline(value: object, where: str, index: int | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise NotebookFormatError(f"{where} must be a string or a list of strings", cell=index)


def _object(value: object, where: str, index: int | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NotebookFormatError(f"{where} must be an object, not {_json_type(value)}", cell=index)
    return value


def _json_type(value: object) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def dumps_ipynb(nb: Notebook) -> str:
    """Serialise ``nb`` as a Jupyter notebook, nbformat 4.5 (``nbformat_minor`` 5).

    Every cell gets an ``id`` (a missing, repeated or invalid one is replaced by a fresh id);
    ``source`` and multi-line output text are written as lists of lines, as Jupyter does;
    ``bytes`` MIME payloads as base64 strings; JSON MIME types (``application/json``,
    ``*+json``) as JSON values.  Code cells carry ``outputs`` and ``execution_count``, markdown
    and raw cells neither.  The format's own keys are in alphabetical order and indented by one
    space, as Jupyter writes them; metadata and MIME bundles keep their own order (so cell
    options keep theirs through a percent -> ipynb -> percent conversion).

    Raises :class:`NotebookFormatError` if a value cannot be encoded as JSON (an arbitrary
    object in metadata, a lone surrogate) or a cell kind is unknown.
    """
    seen: set[str] = set()
    cells = [_cell_to_json(cell, index, seen) for index, cell in enumerate(nb.cells)]
    metadata = dict(nb.metadata)
    if nb.header:
        _merge_namespace(metadata, {"header": nb.header})
    doc = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    try:
        encoded = msgspec.json.encode(doc)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise NotebookFormatError(f"cannot encode the notebook as JSON: {exc}") from exc
    return msgspec.json.format(encoded, indent=1).decode("utf-8") + "\n"


def _merge_namespace(metadata: dict[str, Any], values: dict[str, Any]) -> None:
    entry = metadata.get(_NAMESPACE)
    metadata[_NAMESPACE] = {**(entry if isinstance(entry, dict) else {}), **values}


def _cell_to_json(cell: Cell, index: int, seen: set[str]) -> dict[str, Any]:
    if cell.kind not in ("code", "markdown", "raw"):
        raise NotebookFormatError(f"unknown cell kind {cell.kind!r}", cell=index)
    cell_id = cell.id
    if not _NBFORMAT_ID.fullmatch(cell_id) or cell_id in seen:
        cell_id = new_cell_id()
    seen.add(cell_id)
    metadata = dict(cell.metadata)
    extra: dict[str, Any] = {}
    if cell.name is not None:
        extra["name"] = cell.name
    if cell.options:
        extra["options"] = dict(cell.options)
    if extra:
        _merge_namespace(metadata, extra)
    out: dict[str, Any] = {
        "cell_type": cell.kind,
        "id": cell_id,
        "metadata": metadata,
        "source": _lines(cell.source),
    }
    if cell.kind == "code":
        out["outputs"] = [_output_to_json(output) for output in cell.outputs]
        out["execution_count"] = cell.execution_count
    return dict(sorted(out.items()))


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _output_to_json(output: dict[str, Any]) -> dict[str, Any]:
    kind = output.get("output_type")
    keys = _OUTPUT_KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None:  # not an nbformat-4 output type: kept as it is
        return dict(output)
    out: dict[str, Any] = {"output_type": kind}
    for key in keys:  # only the schema's keys: kernel-side extras (``transient``) are dropped
        if key in output:
            out[key] = output[key]
    if kind == "stream":
        out.setdefault("name", "stdout")
        text = out.get("text", "")
        out["text"] = _lines(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    elif kind == "error":
        out.setdefault("ename", "")
        out.setdefault("evalue", "")
        out.setdefault("traceback", [])
    else:
        out["data"] = {
            mime: _mime_to_json(mime, value) for mime, value in (out.get("data") or {}).items()
        }
        out.setdefault("metadata", {})
        if kind == "execute_result":
            out.setdefault("execution_count", None)
    return dict(sorted(out.items()))


def _mime_to_json(mime: str, value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, str) and not _is_json_mime(mime):
        return _lines(value)
    return value


def validate_ipynb(notebook: str | bytes | dict[str, Any]) -> bool:
    """Validate an ipynb document against the nbformat JSON schema, if nbformat is installed.

    ``notebook`` is the JSON text or the decoded dict (not modified).  Returns ``True`` when it
    was validated, ``False`` when nbformat is not importable (in Pyodide, for instance).
    Raises :class:`NotebookFormatError` when it is not valid.
    """
    try:
        import nbformat
    except ImportError:
        return False
    text = notebook if isinstance(notebook, (str, bytes)) else json.dumps(notebook)
    doc = json.loads(text)  # a private copy: nbformat.validate may repair in place
    try:
        nbformat.validate(doc)
    except nbformat.ValidationError as exc:
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        raise NotebookFormatError(f"not a valid nbformat 4 notebook: {message}") from exc
    return True
