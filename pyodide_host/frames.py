"""Host-level frames of the Pyodide session (:mod:`pyodide_host.session`).

Frames are msgpack bytes both ways.  This module reads just enough of an incoming frame to tell
a host-level message (``restart-kernel``, ``save-notebook``) from a kernel command
(:func:`peek`), encodes the host's own answers (:func:`host_frame`), and converts notebooks to
and from text: the cells of a ``save-notebook`` frame as a percent-format ``.py``
(:func:`save_request_text`), and a notebook file as JSON for the worker's snapshot
(:func:`parse_notebook`).

Imports only the standard library, msgspec and :mod:`lifecycle`: it runs on CPython too.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "HOST_TYPES",
    "Peek",
    "as_bytes",
    "host_frame",
    "one_line",
    "parse_notebook",
    "peek",
    "save_request_text",
]

HOST_TYPES = frozenset({"restart-kernel", "save-notebook", "push-virtual-files"})
"""Frame types the session answers itself instead of handing them to the kernel."""


class Peek(msgspec.Struct):
    """The two fields of an incoming frame the session looks at before routing it."""

    type: Any = None
    request_id: Any = ""


_peek_decoder = msgspec.msgpack.Decoder(Peek)


class _SaveCell(msgspec.Struct):
    id: str = ""
    kind: str = "code"
    source: str = ""
    name: str | None = None
    options: dict[str, Any] = {}


class _SaveRequest(msgspec.Struct):
    cells: list[_SaveCell] = []


_save_decoder = msgspec.msgpack.Decoder(_SaveRequest)
_encoder = msgspec.msgpack.Encoder()


def as_bytes(frame: Any) -> bytes | bytearray | memoryview:
    """A frame as a bytes-like object: JS ``Uint8Array`` proxies are copied out once."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return frame
    to_bytes = getattr(frame, "to_bytes", None)  # pyodide.ffi.JsProxy of a typed array
    if to_bytes is not None:
        return to_bytes()
    raise TypeError(f"a frame must be bytes or a Uint8Array, not {type(frame).__name__}")


def peek(data: bytes | bytearray | memoryview) -> Peek | None:
    """The ``type`` and ``request_id`` of a frame, or ``None`` when it does not decode."""
    try:
        return _peek_decoder.decode(data)
    except Exception:  # DecodeError, UnicodeDecodeError (a string not UTF-8), RecursionError
        return None


def host_frame(tag: str, **fields: Any) -> bytes:
    """A host-level notification frame: ``{"type": tag, **fields}`` as msgpack."""
    return _encoder.encode({"type": tag, **fields})


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most 500 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def save_request_text(frame: bytes | bytearray | memoryview, original: str | None = None) -> tuple[str, str]:
    """The cells of a ``save-notebook`` frame as a percent-format ``.py``:
    ``(text, "")``, or ``("", why)`` when they cannot be written in that format.  With
    ``original`` (the notebook file's text as the site holds it), only the cells that changed
    are rewritten: its header (docstring, PEP 723 block, comments) and untouched cells stay
    byte for byte (:func:`lifecycle.notebook.splice.splice_percent`)."""
    from lifecycle.notebook import Cell, Notebook, dumps_percent
    from lifecycle.notebook.splice import splice_percent

    try:
        request = _save_decoder.decode(frame)
        cells = [
            Cell(id=c.id, kind=c.kind if c.kind in ("code", "markdown", "raw") else "code",  # type: ignore[arg-type]
                 source=c.source, name=c.name, options=dict(c.options))
            for c in request.cells
        ]  # fmt: skip
        if original is not None:
            return splice_percent(original, cells), ""
        return dumps_percent(Notebook(cells=cells)), ""
    except Exception as exc:  # DecodeError, NotebookFormatError, UnicodeDecodeError, RecursionError
        return "", one_line(exc)


def parse_notebook(text: str, name: str = "") -> str:
    """A notebook file's cells for the worker's snapshot, as JSON: ``{"cells": [{"id",
    "kind", "source", "name", "options"}], "path", "semantics"}``.

    Args:
        text: the file's content, percent-format ``.py`` or (``name`` ending in ``.ipynb``) JSON.
        name: the file's name.

    Raises:
        lifecycle.notebook.NotebookFormatError: an ``.ipynb`` that is not a notebook.
    """
    import json

    from lifecycle.notebook import loads_ipynb, loads_percent

    nb = loads_ipynb(text) if str(name).lower().endswith(".ipynb") else loads_percent(text)
    cells = [
        {"id": c.id, "kind": c.kind, "source": c.source, "name": c.name, "options": dict(c.options)}
        for c in nb.cells
    ]
    return json.dumps({"cells": cells, "path": str(name), "semantics": nb.semantics})
