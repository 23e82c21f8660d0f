"""The percent ``.py`` format: :func:`loads_percent` and :func:`dumps_percent`.

Percent format (the jupytext percent convention)
-----------------------------------------------
A cell starts at a marker line ``# %%`` (``#%%`` is read too), optionally followed by a title
(our cell ``name``), a cell type ``[markdown]`` or ``[raw]`` (``[md]`` is read too) and options
``key=value`` (``true``/``false``, integers, floats or JSON-quoted strings)::

    # %% load data [markdown] hide_code=true

Code cells are written verbatim, except IPython syntax (``%magic``, ``%%magic``, ``!cmd``,
``x = !cmd``, ``obj?``), which is written commented (``# %timeit f(x)``) and read back
uncommented, as Jupytext does, so the file stays a valid script (:mod:`.magics`).  Markdown and
raw cells are written as comments: ``# text``,
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
"""

from __future__ import annotations

import json
import math
import re

from lifecycle.notebook.magics import comment_magics, uncomment_magics
from lifecycle.notebook.metadata import (
    _CODING,
    _NAMESPACE,
    _header_semantics,
    _metadata_semantics,
    _set_header_semantics,
)
from lifecycle.notebook.model import (
    Cell,
    CellKind,
    Notebook,
    NotebookFormatError,
    OptionValue,
    new_cell_id,
)

__all__ = ["dumps_percent", "loads_percent"]

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
            lines = [_escape(line) for line in _split_source(comment_magics(cell.source))]
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
    return uncomment_magics("\n".join(_unescape(line) for line in lines))


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
