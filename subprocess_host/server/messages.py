"""Host-level messages between the page and the local server (not part of the kernel protocol).

They travel on the same WebSocket as the kernel protocol, as msgpack maps with a kebab-case
``type`` (so a page decodes every frame the same way).  The server handles these types itself
and never forwards them to a kernel.

Page -> server: :class:`SaveNotebook` (``save-notebook``), :class:`RestartKernel`
(``restart-kernel``), :class:`ReloadNotebook` (``reload-notebook``).  Server -> page: :class:`NotebookSnapshot` (``notebook``),
:class:`NotebookSaved` (``notebook-saved``), :class:`KernelRestarted` (``kernel-restarted``),
:class:`NotebookChangedOnDisk` (``notebook-changed-on-disk``).
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
        overwrite: write even if another program changed the file since the server last
            read or wrote it (otherwise such a save is refused with ``conflict``).
    """

    cells: list[HostCell]
    request_id: str = ""
    overwrite: bool = False


class NotebookSaved(_HostMessage, tag="notebook-saved"):
    """Server -> page: the answer to :class:`SaveNotebook` (sent to the tab that asked).

    Attributes:
        ok: the file was written; when ``False`` the file on disk is untouched.
        error: why it was not (empty when ``ok``).
        request_id: the request's ``request_id``.
        path: the notebook's path.
        conflict: not written because another program changed the file on disk (the page
            offers reload or overwrite).
    """

    ok: bool
    error: str = ""
    request_id: str = ""
    path: str = ""
    conflict: bool = False


class ReloadNotebook(_HostMessage, tag="reload-notebook"):
    """Page -> server (edit mode): replace the session's cells with the file on disk.

    Every tab then gets a ``notebook`` snapshot; a failure is answered with
    :class:`NotebookChangedOnDisk` carrying ``error``.
    """

    request_id: str = ""


class NotebookChangedOnDisk(_HostMessage, tag="notebook-changed-on-disk"):
    """Server -> every tab of an edit session: another program changed (or removed) the
    notebook file since the server last read or wrote it.  Sent once per change, and to a tab
    that connects while the change is pending; saving is refused until the page reloads or
    overwrites.

    Attributes:
        path: the notebook's path.
        deleted: the file no longer exists.
        error: why a ``reload-notebook`` failed (empty otherwise).
        request_id: the ``reload-notebook`` request's id when answering one.
    """

    path: str
    deleted: bool = False
    error: str = ""
    request_id: str = ""


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


HostCommand = Union[SaveNotebook, RestartKernel, ReloadNotebook]  # noqa: UP007 - msgspec needs a Union object
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
    except Exception:  # DecodeError, UnicodeDecodeError (a string not UTF-8), RecursionError
        return None
    return tag if isinstance(tag, str) else None


def decode_host_command(frame: bytes | bytearray | memoryview) -> HostCommand:
    """Decode a ``save-notebook``, ``restart-kernel`` or ``reload-notebook`` frame.

    Raises:
        HostCommandError: malformed msgpack, another type, or a field of the wrong type.
    """
    try:
        return _host_decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HostCommandError(str(exc)) from None
    except Exception as exc:  # UnicodeDecodeError (a string not UTF-8), RecursionError...
        raise HostCommandError(f"malformed msgpack frame ({type(exc).__name__}: {exc})") from None


def encode_host(message: msgspec.Struct) -> bytes:
    """Encode a host-level (or kernel protocol) message as one msgpack frame."""
    return _encoder.encode(message)
