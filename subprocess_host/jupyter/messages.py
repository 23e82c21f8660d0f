"""Jupyter message contents built from amphikernel notifications (no transport, no state).

Shapes follow the Jupyter messaging protocol 5.3
(https://jupyter-client.readthedocs.io/en/stable/messaging.html): ``stream``,
``display_data`` / ``execute_result`` / ``update_display_data`` (``data``, ``metadata``,
``transient.display_id``), ``error`` (``ename``, ``evalue``, ``traceback`` as a list of lines),
``clear_output``.  Binary payloads of a mimebundle (``bytes``: PNG, JPEG, PDF...) become base64
strings, as the Jupyter wire format (JSON) requires; the protocol's own frames keep them as
msgpack ``bin``.
"""

from __future__ import annotations

import base64
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from lifecycle import protocol

PROTOCOL_VERSION = "5.3"
"""The Jupyter messaging protocol version the bridge speaks."""


@dataclass
class Outgoing:
    """One Jupyter message to send: ``msg_type`` and ``content`` (JSON-able), binary
    ``buffers`` (comm messages), message ``metadata``, ``channel`` (``"iopub"`` for everything
    the translator makes)."""

    msg_type: str
    content: dict[str, Any]
    buffers: list[bytes] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    channel: str = "iopub"


def new_display_id() -> str:
    """A fresh display id for an output the bridge shows (``amphi-<hex>``)."""
    return f"amphi-{uuid.uuid4().hex[:16]}"


def jsonable_value(value: Any) -> Any:
    """``value`` with every ``bytes`` inside it made a base64 string (JSON has no bytes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable_value(v) for v in value]
    return value


def jsonable_bundle(data: dict[str, Any]) -> dict[str, Any]:
    """A mimebundle for the Jupyter wire: binary payloads as base64 strings."""
    return {mime: jsonable_value(payload) for mime, payload in data.items()}


def stream(name: str, text: str) -> Outgoing:
    """A ``stream`` message (``name`` is ``"stdout"`` or ``"stderr"``)."""
    return Outgoing("stream", {"name": name, "text": text})


def display(
    data: dict[str, Any], metadata: dict[str, Any], display_id: str, execution_count: int | None = None
) -> Outgoing:
    """``execute_result`` (when ``execution_count`` is given) or ``display_data``, carrying
    ``display_id`` in ``transient`` so later ``update_display_data`` can replace it."""
    content: dict[str, Any] = {
        "data": jsonable_bundle(data),
        "metadata": jsonable_value(metadata),
        "transient": {"display_id": display_id},
    }
    if execution_count is not None:
        content["execution_count"] = execution_count
        return Outgoing("execute_result", content)
    return Outgoing("display_data", content)


def update_display(data: dict[str, Any], metadata: dict[str, Any], display_id: str) -> Outgoing:
    """``update_display_data``: replace every output shown with ``display_id``."""
    return Outgoing(
        "update_display_data",
        {"data": jsonable_bundle(data), "metadata": jsonable_value(metadata), "transient": {"display_id": display_id}},
    )


def traceback_lines(note: protocol.CellError) -> list[str]:
    """The traceback of a cell error as Jupyter's list of lines (as ``amphi execute``
    stores it in ``.ipynb`` files)."""
    if note.traceback:
        return note.traceback.rstrip("\n").split("\n")
    return [f"{note.ename}: {note.evalue}"]


def error_content(note: protocol.CellError) -> dict[str, Any]:
    """The content of an ``error`` message (and of an error ``execute_reply``)."""
    return {"ename": note.ename, "evalue": note.evalue, "traceback": traceback_lines(note)}


def error_as_bundle(note: protocol.CellError) -> dict[str, Any]:
    """A cell error as a ``text/plain`` mimebundle (to update an output slot in place:
    ``update_display_data`` carries data, not errors)."""
    return {"text/plain": "\n".join(traceback_lines(note))}


def not_run_error(cell_id: str) -> protocol.CellError:
    """The error shown for a requested cell the kernel did not run because a cell it reads
    from raised (``errored-ancestor``)."""
    return protocol.CellError(
        cell_id=cell_id,
        ename="AncestorError",
        evalue="not run: a cell this one reads from raised an error",
    )


def kernel_info_content(python: str, implementation_version: str) -> dict[str, Any]:
    """The ``kernel_info_reply`` content.

    Args:
        python: the kernel interpreter's version (``"3.12.1"``).
        implementation_version: amphikernel's version.
    """
    return {
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "amphikernel",
        "implementation_version": implementation_version,
        "language_info": {
            "name": "python",
            "version": python or ".".join(map(str, sys.version_info[:3])),
            "mimetype": "text/x-python",
            "file_extension": ".py",
            "pygments_lexer": "ipython3",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "nbconvert_exporter": "python",
        },
        "banner": f"amphikernel {implementation_version}: a reactive Python kernel (Python {python})",
        "help_links": [],
        "debugger": False,
    }
