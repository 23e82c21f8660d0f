"""Host-level messages between the page and the local server (not part of the kernel protocol).

They travel on the same WebSocket as the kernel protocol, as msgpack maps with a kebab-case
``type`` (so a page decodes every frame the same way).  The server handles these types itself
and never forwards them to a kernel.

Page -> server: :class:`SaveNotebook` (``save-notebook``), :class:`RestartKernel`
(``restart-kernel``).  Server -> page: :class:`NotebookSnapshot` (``notebook``),
:class:`NotebookSaved` (``notebook-saved``), :class:`KernelRestarted` (``kernel-restarted``).
Server -> page messages always carry every field; page -> server messages may leave out
fields that have defaults.  Schema evolution follows the kernel protocol's rules: new fields
get defaults, no field changes type, no tag is reused.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from lifecycle.protocol import PROTOCOL_VERSION

CellKind = Literal["code", "markdown", "raw"]


class HostCell(msgspec.Struct, kw_only=True):
    """One notebook cell as the page sees it.

    Attributes:
        id: the cell id (stable for the server session; percent files do not store ids).
        kind: ``"code"``, ``"markdown"`` or ``"raw"``.
        source: the cell's text.
        name: the cell's title (the text after ``# %%``), or ``None``.
        options: cell options (``key=value`` on the marker line): str, bool, int or finite
            float values.
    """

    id: str
    kind: CellKind = "code"
    source: str = ""
    name: str | None = None
    options: dict[str, Any] = {}


class _HostMessage(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of host-level messages."""


class NotebookSnapshot(_HostMessage, tag="notebook"):
    """Server -> page: the notebook as the session knows it.

    Sent first on every (re)connection, then to the *other* tabs of an edit session whenever
    one tab changes the notebook (``execute-cells``, ``delete-cells``, ``save-notebook``).

    Attributes:
        cells: every cell in notebook order.
        path: the notebook's absolute path on the server.
        mode: ``"edit"`` or ``"run"``.
        saved: whether the cells equal what is on disk.
        semantics: ``"script"`` or ``"strict"``.
        protocol: the kernel protocol version (:data:`lifecycle.protocol.PROTOCOL_VERSION`).
    """

    cells: list[HostCell]
    path: str
    mode: Literal["edit", "run"]
    saved: bool
    semantics: Literal["script", "strict"] = "script"
    protocol: int = PROTOCOL_VERSION


class SaveNotebook(_HostMessage, tag="save-notebook"):
    """Page -> server (edit mode): write these cells to the notebook file, atomically.

    The file keeps its header (percent format) or metadata (``.ipynb``); ``.ipynb`` files get
    the outputs of this session's latest runs.  Answered by :class:`NotebookSaved`.

    Attributes:
        cells: the full cell list, in order (cell ids unique and non-empty).
        request_id: echoed in the answer.
    """

    cells: list[HostCell]
    request_id: str = ""


class NotebookSaved(_HostMessage, tag="notebook-saved"):
    """Server -> page: the answer to :class:`SaveNotebook` (sent to the tab that asked).

    Attributes:
        ok: the file was written; when ``False`` the file on disk is untouched.
        error: why it was not (empty when ``ok``).
        request_id: the request's ``request_id``.
        path: the notebook's path.
    """

    ok: bool
    error: str = ""
    request_id: str = ""
    path: str = ""


class RestartKernel(_HostMessage, tag="restart-kernel"):
    """Page -> server (edit mode): stop the session's kernel (if alive) and start a new one.

    Every tab then gets :class:`KernelRestarted` (and ``kernel-ready`` from the new kernel).
    """

    request_id: str = ""


class KernelRestarted(_HostMessage, tag="kernel-restarted"):
    """Server -> every tab of the session: the kernel was restarted; clear every output.

    Attributes:
        ok: a new kernel is ready; when ``False`` the kernel is not running (see ``error``).
        error: why the restart failed.
        request_id: the ``restart-kernel`` request's ``request_id``.
    """

    ok: bool
    error: str = ""
    request_id: str = ""


HostCommand = Union[SaveNotebook, RestartKernel]  # noqa: UP007 - msgspec needs a Union object
HOST_COMMAND_TYPES: frozenset[str] = frozenset(
    c.__struct_config__.tag for c in HostCommand.__args__  # type: ignore[attr-defined]
)
"""Types the server handles itself (page -> server)."""


class HostCommandError(ValueError):
    """A host-level command frame failed validation."""


class _Peek(msgspec.Struct):
    type: Any = None


_encoder = msgspec.msgpack.Encoder()
_host_decoder = msgspec.msgpack.Decoder(HostCommand)
_peek_decoder = msgspec.msgpack.Decoder(_Peek)


def peek_type(frame: bytes | bytearray | memoryview) -> str | None:
    """The ``type`` of a msgpack map frame, or ``None`` (not msgpack, not a map, no string
    ``type``).  Other fields are skipped without being decoded."""
    try:
        tag = _peek_decoder.decode(frame).type
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return tag if isinstance(tag, str) else None


def decode_host_command(frame: bytes | bytearray | memoryview) -> HostCommand:
    """Decode a ``save-notebook`` or ``restart-kernel`` frame.

    Raises:
        HostCommandError: malformed msgpack, another type, or a field of the wrong type.
    """
    try:
        return _host_decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HostCommandError(str(exc)) from None


def encode_host(message: msgspec.Struct) -> bytes:
    """Encode a host-level (or kernel protocol) message as one msgpack frame."""
    return _encoder.encode(message)
