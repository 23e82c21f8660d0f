"""Notebook file formats: the percent ``.py`` format and Jupyter ``.ipynb`` (nbformat 4.5).

Everything here is pure Python on top of the standard library and msgspec, so it imports inside
Pyodide.  nbformat is only used, when it happens to be installed, by :func:`validate_ipynb`.

Percent format (the jupytext percent convention)
-----------------------------------------------
A cell starts at a marker line ``# %%`` (``#%%`` is read too), optionally followed by a title
(our cell ``name``), a cell type ``[markdown]`` or ``[raw]`` (``[md]`` is read too) and options
``key=value`` (``true``/``false``, integers, floats or JSON-quoted strings)::

    # %% load data [markdown] hide_code=true

Code cells are written verbatim.  Markdown and raw cells are written as comments: ``# text``,
a bare ``#`` for an empty line; a markdown body given as one triple-quoted string is read too.
Text before the first marker is the notebook ``header`` (shebang, encoding line, module
docstring, PEP 723 ``# /// script`` block, comments), kept verbatim.  A file without any marker
is a header plus one code cell.  The Python is never parsed, so files with syntax errors load.

Blank lines and newlines (how the round trip stays byte-identical)
------------------------------------------------------------------
* Every line we write ends with ``\\n``; a cell's *body* is its source plus one ``\\n`` (nothing
  for an empty source), and cells are separated by exactly one blank line.
* Reading undoes exactly that: the single blank line before the next marker is the separator,
  then the final newline of the body is dropped.  Further blank lines belong to the source, so a
  hand-written file with two blank lines between cells reads as sources ending in ``\\n`` and is
  written back unchanged.
* Trailing empty lines of a markdown/raw cell are written as blank lines (not ``#``), so they
  survive the same way.
* A line that would read as a marker (``# %%``, ``#%% x``) inside a cell is written with one more
  ``#`` (``## %%``) and read back without it.
* Hence ``dumps_percent(loads_percent(x)) == x`` for every ``x`` that :func:`dumps_percent`
  produced and for hand-written files in that layout.  Other layouts are normalised once (a
  missing blank line before a marker or final newline is added, ``#%%`` becomes ``# %%``, code
  before the first marker gets a marker of its own, a file without markers gets one) and are
  stable afterwards.

Notebook-level data in a percent file: ``semantics`` lives in the PEP 723 block as
``[tool.amphikernel]`` / ``semantics = "strict"``.  In ``.ipynb`` files, the header and the
semantics are kept under ``metadata["amphikernel"]``, a cell's name and options under the cell's
``metadata["amphikernel"]``, so conversions in both directions keep them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import secrets
import stat
import string
from pathlib import Path
from typing import Any, Literal

import msgspec

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

CellKind = Literal["code", "markdown", "raw"]
OptionValue = str | bool | int | float
Semantics = Literal["script", "strict"]

_NAMESPACE = "amphikernel"
"""Key of our entries in notebook and cell metadata (namespaced, as nbformat recommends)."""

_ID_ALPHABET = string.ascii_letters + string.digits


def new_cell_id() -> str:
    """Return a fresh cell id: 10 random ASCII letters/digits (URL-safe, a valid nbformat id)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


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


# --------------------------------------------------------------------------------------------
# percent format
# --------------------------------------------------------------------------------------------

_MARKER = re.compile(r"^#[ ]?%%(?=\s|$)(?P<rest>[^\n]*)", re.MULTILINE)
_NEEDS_ESCAPE = re.compile(r"#+[ ]?%%(?=\s|$)")
_ESCAPED = re.compile(r"##+[ ]?%%(?=\s|$)")
_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
_KEY_RE = re.compile(_KEY)
_OPTION_AT_END = re.compile(rf'(?:^|\s)(?P<key>{_KEY})=(?P<value>"(?:[^"\\\n]|\\.)*"|[^\s"]+)$')
_KIND_AT_END = re.compile(r"(?:^|\s)\[(?P<kind>markdown|md|raw)\]$", re.IGNORECASE)
_KIND_TAGS = {"markdown": "markdown", "md": "markdown", "raw": "raw"}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_TRIPLE_QUOTED = re.compile(r"\A\s*[rR]?(\"\"\"|''')\n?(?P<body>.*?)\n?\1\s*\Z", re.DOTALL)
_CODING = re.compile(r"[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
_DOC_OPEN = re.compile(r"[rRuU]?(\"\"\"|'''|\"|')")
_LINE_TAIL = re.compile(r"[ \t]*(?:#[^\n]*)?(?:\n|\Z)")


def loads_percent(text: str) -> Notebook:
    """Parse a percent-format Python file (jupytext percent convention, PEP 723 header).

    ``text`` is the whole file as ``str``.  Never raises on content: any text is a notebook
    (a file with syntax errors too, the Python is not parsed).  Cells get fresh ids.  A header
    whose PEP 723 block sets ``[tool.amphikernel] semantics`` puts it in ``metadata``.  See the
    module docstring for the blank-line rules.
    """
    markers = list(_MARKER.finditer(text))
    first = markers[0].start() if markers else len(text)
    header, leading_code = _split_prelude(text[:first])
    cells: list[Cell] = []
    if leading_code:
        lines = _body_lines(leading_code, last=not markers)
        cells.append(Cell(new_cell_id(), "code", _decode_code(lines)))
    for i, marker in enumerate(markers):
        start = min(marker.end() + 1, len(text))
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        lines = _body_lines(text[start:end], last=i + 1 == len(markers))
        name, kind, options = _parse_marker(marker["rest"])
        source = _decode_code(lines) if kind == "code" else _decode_commented(lines, kind)
        cells.append(Cell(new_cell_id(), kind, source, name=name, options=options))
    semantics = _header_semantics(header)
    metadata = {_NAMESPACE: {"semantics": semantics}} if semantics else {}
    return Notebook(cells=cells, header=header, metadata=metadata)


def dumps_percent(nb: Notebook) -> str:
    """Serialise ``nb`` to the percent format (the inverse of :func:`loads_percent`).

    The header is written verbatim (a newline is added if a marker line would follow it on
    the same line); if ``metadata`` sets a semantics the header does not state, the header's
    PEP 723 block is updated (or one is added).  Outputs, execution counts and cell metadata
    are not part of this format.

    Raises :class:`NotebookFormatError` for what the format cannot hold: a header containing
    a ``# %%`` line, an unknown cell kind, an option key that is not ``[A-Za-z_][\\w.-]*`` (or
    is ``name``, which is reserved), an option value that is not a str, bool, int or finite
    float.
    """
    header = nb.header
    wanted = _metadata_semantics(nb.metadata)
    if wanted and wanted != (_header_semantics(header) or "script"):
        header = _set_header_semantics(header, wanted)
    if _MARKER.search(header):
        raise NotebookFormatError("the header must not contain a '# %%' cell marker line")
    if nb.cells and header and not header.endswith("\n"):
        header += "\n"  # the first marker starts a line
    chunks = []
    for index, cell in enumerate(nb.cells):
        if cell.kind == "code":
            lines = [_escape(line) for line in _split_source(cell.source)]
        elif cell.kind in ("markdown", "raw"):
            lines = _comment_lines(_split_source(cell.source))
        else:
            raise NotebookFormatError(f"unknown cell kind {cell.kind!r}", cell=index)
        body = "".join(line + "\n" for line in lines)
        chunks.append(_marker_line(cell, index) + "\n" + body)
    return header + "\n".join(chunks)


def _split_source(source: str) -> list[str]:
    return source.split("\n") if source else []


def _body_lines(body: str, *, last: bool) -> list[str]:
    """Lines of a cell body: drop the separating blank line (not after the last cell)."""
    if not last and (body == "\n" or body.endswith("\n\n")):
        body = body[:-1]
    if not body:
        return []
    lines = body.split("\n")
    if body.endswith("\n"):
        lines.pop()
    return lines


def _escape(line: str) -> str:
    return "#" + line if _NEEDS_ESCAPE.match(line) else line


def _unescape(line: str) -> str:
    return line[1:] if _ESCAPED.match(line) else line


def _decode_code(lines: list[str]) -> str:
    return "\n".join(_unescape(line) for line in lines)


def _comment_lines(lines: list[str]) -> list[str]:
    """Markdown/raw lines as comments; trailing empty lines stay blank lines."""
    end = len(lines)
    while end and not lines[end - 1]:
        end -= 1
    commented = [_escape("# " + line if line else "#") for line in lines[:end]]
    return commented + [""] * (len(lines) - end)


def _decode_commented(lines: list[str], kind: str) -> str:
    if kind == "markdown":
        quoted = _TRIPLE_QUOTED.match("\n".join(lines))
        if quoted and not lines[0].startswith("#"):
            return quoted["body"]
    out = []
    for line in lines:
        line = _unescape(line)
        if line.startswith("# "):
            line = line[2:]
        elif line.startswith("#"):
            line = line[1:]
        out.append(line)
    return "\n".join(out)


def _parse_marker(rest: str) -> tuple[str | None, CellKind, dict[str, OptionValue]]:
    """``rest`` of a marker line -> (name, kind, options)."""
    title, kind, options = _parse_marker_rest(rest)
    option_name = options.pop("name", None)
    if title is None and isinstance(option_name, str):
        title = option_name
    return title, kind or "code", options


def _parse_marker_rest(rest: str) -> tuple[str | None, CellKind | None, dict[str, OptionValue]]:
    text = rest.strip()
    pairs: list[tuple[str, OptionValue]] = []
    text = _peel_options(text, pairs)
    kind: CellKind | None = None
    match = _KIND_AT_END.search(text)
    if match:
        kind = _KIND_TAGS[match["kind"].lower()]  # type: ignore[assignment]
        text = _peel_options(text[: match.start()].rstrip(), pairs)
    # ``pairs`` were peeled from the right: reverse to file order, so a repeated key's last wins.
    return text or None, kind, dict(reversed(pairs))


def _peel_options(text: str, pairs: list[tuple[str, OptionValue]]) -> str:
    while match := _OPTION_AT_END.search(text):
        pairs.append((match["key"], _parse_value(match["value"])))
        text = text[: match.start()].rstrip()
    return text


def _parse_value(token: str) -> OptionValue:
    if token.startswith('"'):
        try:
            value = json.loads(token)
        except ValueError:
            return token[1:-1]
        return value if isinstance(value, str) else token[1:-1]
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    try:
        if _INT.fullmatch(token):
            return int(token)
        if _FLOAT.fullmatch(token) and math.isfinite(number := float(token)):
            return number
    except ValueError:  # an integer longer than Python converts
        pass
    return token


def _format_value(key: str, value: object, cell: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotebookFormatError(f"option {key!r}: {value} cannot be written", cell=cell)
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise NotebookFormatError(
        f"option {key!r}: a {type(value).__name__} value cannot be written "
        "(only str, bool, int, float)",
        cell=cell,
    )


def _marker_line(cell: Cell, index: int) -> str:
    """The marker line of ``cell``; checked to read back as the same name, kind and options."""
    for key in cell.options:
        if key == "name" or not _KEY_RE.fullmatch(key):
            raise NotebookFormatError(
                f"option key {key!r} cannot be written (reserved or not [A-Za-z_][\\w.-]*)",
                cell=index,
            )
    options = [f"{key}={_format_value(key, value, index)}" for key, value in cell.options.items()]
    kind = [] if cell.kind == "code" else [f"[{cell.kind}]"]
    expected = (cell.name, cell.kind, cell.options)
    if cell.name is None:
        return " ".join(["# %%", *kind, *options])
    line = " ".join(["# %%", cell.name, *kind, *options])
    if "\n" not in cell.name and _parse_marker(line[4:]) == expected:
        return line
    # A name the title syntax cannot hold (``a=1``, ``x [raw]``, a newline...): an option.
    name = "name=" + _format_value("name", cell.name, index)
    return " ".join(["# %%", *kind, name, *options])


# Header: what precedes the first cell ------------------------------------------------------


def _split_prelude(text: str) -> tuple[str, str]:
    """Split the text before the first marker into (header, code).

    The header is the leading shebang, encoding line, comments, blank lines, module docstring
    and PEP 723 block, up to the last blank line, docstring end, ``# ///`` line or shebang/
    encoding line (comments right above code stay with the code).  Without any code the whole
    text is the header.
    """
    pos = header_end = lineno = 0
    seen_docstring = False
    while pos < len(text):
        newline = text.find("\n", pos)
        end = len(text) if newline < 0 else newline + 1
        line = text[pos:end]
        stripped = line.strip()
        if (
            not stripped
            or stripped == "# ///"
            or (lineno == 0 and line.startswith("#!"))
            or (lineno < 2 and _CODING.match(line))
        ):
            header_end = end
        elif stripped.startswith("#"):
            pass
        else:
            doc_end = None if seen_docstring else _docstring_end(text, pos)
            if doc_end is None:
                return text[:header_end], text[header_end:]
            seen_docstring = True
            header_end = end = doc_end
        lineno += text.count("\n", pos, end)
        pos = end
    return text, ""


def _docstring_end(text: str, pos: int) -> int | None:
    """End (after its line) of a string literal statement starting at ``pos``, else None."""
    opening = _DOC_OPEN.match(text, pos)
    if not opening:
        return None
    quote = opening.group(1)
    i = opening.end()
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(quote, i):
            tail = _LINE_TAIL.match(text, i + len(quote))
            return tail.end() if tail else None
        elif text[i] == "\n" and len(quote) == 1:
            return None
        else:
            i += 1
    return None


# Semantics in the PEP 723 block -------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# ipynb (nbformat 4)
# --------------------------------------------------------------------------------------------

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

    Raises :class:`NotebookFormatError`: invalid JSON (with its line), nbformat other than 4,
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


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def _is_ipynb(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ".ipynb"


def read_notebook(path: str | os.PathLike[str]) -> Notebook:
    """Read a notebook file: ``.ipynb`` as nbformat 4, any other suffix as percent format.

    Percent files are read as UTF-8 (a BOM is dropped); a file whose every line break is
    ``\\r\\n`` is read as if it used ``\\n`` (we always write ``\\n``), any other text exactly.
    Raises :class:`NotebookFormatError` naming the file for malformed content or text that is
    not UTF-8; ``OSError`` if it cannot be read.
    """
    try:
        if _is_ipynb(path):
            return loads_ipynb(Path(path).read_bytes())
        with open(path, encoding="utf-8-sig", newline="") as file:
            text = file.read()
        if "\r\n" in text and text.count("\n") == text.count("\r\n"):
            text = text.replace("\r\n", "\n")  # a CRLF file (every line break is \r\n)
        return loads_percent(text)
    except NotebookFormatError as exc:
        exc._at(path)
        raise
    except UnicodeDecodeError as exc:
        raise NotebookFormatError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=os.fspath(path)
        ) from exc


def write_notebook(path: str | os.PathLike[str], nb: Notebook) -> None:
    """Write ``nb`` to ``path`` atomically, as ``.ipynb`` (nbformat 4.5) or percent format.

    The whole file is serialised first, then written to a temporary file in the same
    directory, flushed and fsynced, and moved over ``path`` with ``os.replace`` (keeping the
    old file's permission bits; a symlink is written through).  Readers see the old or the new
    file, never a partial one; on any error the temporary file is removed and the old file is
    untouched.  Raises :class:`NotebookFormatError` if ``nb`` cannot be serialised, ``OSError``
    if the file cannot be written.
    """
    try:
        text = dumps_ipynb(nb) if _is_ipynb(path) else dumps_percent(nb)
        data = text.encode("utf-8")
    except NotebookFormatError as exc:
        exc._at(path)
        raise
    except UnicodeEncodeError as exc:
        raise NotebookFormatError(
            f"cannot encode as UTF-8: {exc.reason} at character {exc.start}",
            path=os.fspath(path),
        ) from exc
    _atomic_write(Path(os.path.realpath(path)), data)


def _atomic_write(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename durable (POSIX only)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def convert(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str]) -> Notebook:
    """Convert between formats by suffix (``.ipynb`` <-> percent ``.py``); returns the notebook.

    The percent header, semantics, cell names and options survive both directions (kept in
    ipynb metadata); outputs, execution counts and cell metadata exist in ipynb only.  Same
    errors as :func:`read_notebook` and :func:`write_notebook`.
    """
    nb = read_notebook(src_path)
    write_notebook(dst_path, nb)
    return nb
