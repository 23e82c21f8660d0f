"""The kernel protocol: commands (host -> kernel) and notifications (kernel -> host).

Every message is a :class:`msgspec.Struct` in a tagged union with ``tag_field="type"`` and a
kebab-case tag.  Frames are msgpack on every channel; binary payloads (images, widget buffers,
virtual files) travel as msgpack ``bin``.  Schema evolution follows msgspec's rules: new fields
always get defaults, no field changes type, no tag is reused.  Bump :data:`PROTOCOL_VERSION`
only for a change an older peer cannot ignore.

Decoding never crashes a peer:

* :func:`decode_command` raises :class:`CommandDecodeError` (with the command type when it can
  be read and the reason); :meth:`CommandDecodeError.to_notification` turns it into the
  ``kernel-error`` notification the kernel sends back before it goes on serving.
* :func:`decode_notification` returns an :class:`UnknownNotification` carrying the tag and the
  raw frame for a ``type`` this version does not know, so hosts can forward it untouched.

``python -m lifecycle.protocol --schema`` prints the JSON Schema of both unions.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal, Union

import msgspec

from lifecycle.msgpack_depth import nested_too_deep

PROTOCOL_VERSION = 1
"""Integer protocol version, announced by the kernel on its ready line and ``kernel-ready``."""

MimeBundle = dict[str, Any]
"""A display mimebundle: MIME type -> payload (``str``, ``bytes`` or a JSON-like value)."""

CellStatusName = Literal["queued", "running", "idle", "stale", "errored-ancestor", "disabled"]


class _Message(msgspec.Struct, tag_field="type", omit_defaults=True):
    """Base of every message; subclasses set ``tag``."""


# --------------------------------------------------------------------------- commands


class ExecuteCells(_Message, tag="execute-cells"):
    """Register or change cells and run them (and every cell downstream of them).

    ``cell_ids[i]`` has source ``codes[i]``.  ``order``, when given, is the notebook's full
    cell order (ids); otherwise new cells are appended in the order given.
    """

    cell_ids: list[str]
    codes: list[str]
    order: list[str] | None = None


class DeleteCells(_Message, tag="delete-cells"):
    """Remove cells: their definitions leave the globals and their dependents re-run."""

    cell_ids: list[str]


class UpdateUIElement(_Message, tag="update-ui-element"):
    """New values for UI elements, element id -> value (many per message)."""

    values: dict[str, Any]


class WidgetModel(_Message, tag="widget-model"):
    """A frontend change to a widget model (anywidget / Jupyter widget message spec).

    ``method`` is ``"update"`` (a state delta; merged like UI updates) or ``"custom"``
    (``content`` for the model's ``on_msg`` handlers).  ``buffers[i]`` is placed at
    ``buffer_paths[i]`` inside ``state`` (or ``content``).
    """

    model_id: str
    method: Literal["update", "custom"] = "update"
    state: dict[str, Any] = {}
    content: Any = None
    buffer_paths: list[list[str | int]] = []
    buffers: list[bytes] = []


class Interrupt(_Message, tag="interrupt"):
    """Interrupt the running cell (hosts deliver it out of band; in the queue it is a no-op)."""


class Stop(_Message, tag="stop"):
    """End the control loop; the kernel tears down."""


class SetConfig(_Message, tag="set-config"):
    """Change kernel settings; ``None`` fields are left as they are."""

    semantics: Literal["script", "strict"] | None = None
    output_max_bytes: int | None = None
    autorun: bool | None = None


class InputReply(_Message, tag="input-reply"):
    """The text typed in answer to an ``input-request``."""

    request_id: str
    text: str = ""


class Complete(_Message, tag="complete"):
    """Ask for code completions at ``cursor`` (a character offset into ``code``)."""

    request_id: str
    code: str
    cursor: int
    cell_id: str | None = None


class InstallPackages(_Message, tag="install-packages"):
    """Install packages (requirement strings) into the kernel's environment."""

    packages: list[str]
    request_id: str = ""


class StoppedAck(_Message, tag="stopped-ack"):
    """Host -> kernel: every frame up to ``kernel-stopped`` arrived; the kernel may close its
    sockets (application-level shutdown handshake)."""


Command = Union[  # noqa: UP007 - msgspec needs a real Union object for the decoder
    ExecuteCells,
    DeleteCells,
    UpdateUIElement,
    WidgetModel,
    Interrupt,
    Stop,
    SetConfig,
    InputReply,
    Complete,
    InstallPackages,
    StoppedAck,
]

# ----------------------------------------------------------------------- notifications


class KernelReady(_Message, tag="kernel-ready"):
    """The kernel can run cells."""

    protocol: int = PROTOCOL_VERSION
    capabilities: list[str] = []
    python: str = ""
    pid: int = 0


class CellStatus(_Message, tag="cell-status"):
    """A cell's run state.  ``running`` means: clear the cell's previous outputs."""

    cell_id: str
    status: CellStatusName
    timestamp: float = 0.0


class CellOutput(_Message, tag="cell-output"):
    """One output of a cell (the last expression's value or a ``display()`` call).

    ``display_id``: the output can be replaced later by ``update-display`` notifications with
    the same id (``display(obj, display_id=...)``, Jupyter's transient ``display_id``; not
    saved in notebook files)."""

    cell_id: str
    data: MimeBundle
    metadata: dict[str, Any] = {}
    kind: Literal["result", "display"] = "display"
    display_id: str | None = None


class UpdateDisplay(_Message, tag="update-display"):
    """Replace the data and metadata of every output carrying ``display_id``, in whichever
    cell it is (Jupyter's ``update_display_data``); ignored if no output carries it.
    ``cell_id`` is the cell whose code asked for the update."""

    display_id: str
    data: MimeBundle = {}
    metadata: dict[str, Any] = {}
    cell_id: str = ""


class ClearOutput(_Message, tag="clear-output"):
    """Clear the outputs shown so far for ``cell_id`` in its current run (Jupyter's
    ``clear_output``).  ``wait``: clear only when the next output, console text or error
    of the cell arrives (no flicker for animations); the cell's next run clears anyway."""

    cell_id: str
    wait: bool = False


class CellConsole(_Message, tag="cell-console"):
    """A chunk of a cell's stdout or stderr, in order."""

    cell_id: str
    stream: Literal["stdout", "stderr"]
    text: str


class TracebackFrame(msgspec.Struct, omit_defaults=True):
    """One frame of a cell error: ``cell_id`` is ``None`` for frames outside cells."""

    filename: str
    lineno: int
    name: str
    line: str = ""
    cell_id: str | None = None


class CellError(_Message, tag="cell-error"):
    """An exception raised by a cell (or a cell that could not run: syntax, cycle, ...), or,
    with ``fatal=False``, one reported while the cell went on."""

    cell_id: str
    ename: str
    evalue: str
    frames: list[TracebackFrame] = []
    traceback: str = ""
    fatal: bool = True
    """``False``: an error shown as an output while the cell went on (an exception inside a
    ``_repr_*_`` method or a figure that failed to render, as Jupyter shows a formatter's
    traceback); the cell is not marked failed."""


class CompletedRun(_Message, tag="completed-run"):
    """Every cell of a run has finished; ``cell_ids`` are the cells that ran."""

    cell_ids: list[str] = []


class UIElementValue(_Message, tag="ui-element-value"):
    """A UI element's value changed kernel-side (``element.value = x``)."""

    element_id: str
    value: Any = None


class WidgetModelUpdate(_Message, tag="widget-model-update"):
    """A kernel-side widget model change: ``open`` (full state), ``update``, ``custom``, ``close``."""

    model_id: str
    method: Literal["open", "update", "custom", "close"] = "update"
    state: dict[str, Any] = {}
    content: Any = None
    buffer_paths: list[list[str | int]] = []
    buffers: list[bytes] = []


class InputRequest(_Message, tag="input-request"):
    """A cell waits in ``input()``/``getpass()`` for an ``input-reply``."""

    request_id: str
    cell_id: str = ""
    prompt: str = ""
    password: bool = False


class Completion(msgspec.Struct, omit_defaults=True):
    """One completion candidate."""

    name: str
    kind: str = ""
    signature: str = ""
    doc: str = ""


class CompletionResult(_Message, tag="completion-result"):
    """Answer to ``complete``; ``start`` is the offset where the completed word begins."""

    request_id: str
    completions: list[Completion] = []
    start: int = 0


class VariableInfo(msgspec.Struct, omit_defaults=True):
    """A global defined by a cell: name, type name and a short repr."""

    name: str
    type: str = ""
    repr: str = ""


class Variables(_Message, tag="variables"):
    """Per cell: the globals it defines (only the cells that ran)."""

    cells: dict[str, list[VariableInfo]] = {}


class KernelError(_Message, tag="kernel-error"):
    """The kernel could not handle a message; it keeps serving."""

    message: str
    command_type: str | None = None
    detail: str = ""


class PackagesInstalled(_Message, tag="packages-installed"):
    """Result of ``install-packages`` (or of an automatic install before a run)."""

    request_id: str = ""
    installed: list[str] = []
    failed: dict[str, str] = {}


class VirtualFileNotice(_Message, tag="virtual-file"):
    """A virtual file was created or released (hosts serve ``@file/`` URLs from this).

    ``shm_name`` names the shared-memory segment holding the bytes (shared-memory storage);
    ``size`` is in bytes."""

    url: str
    filename: str = ""
    mimetype: str = "application/octet-stream"
    size: int = 0
    shm_name: str | None = None
    released: bool = False


class KernelStopped(_Message, tag="kernel-stopped"):
    """Kernel -> host: the last frame before the kernel closes its sockets; the host answers
    ``stopped-ack``."""


class KernelDied(_Message, tag="kernel-died"):
    """Host-generated: the kernel process ended without a clean stop.

    ``returncode`` is the exit status (negative: killed by that signal number)."""

    returncode: int | None = None
    reason: str = ""


Notification = Union[  # noqa: UP007
    KernelReady,
    CellStatus,
    CellOutput,
    CellConsole,
    CellError,
    UpdateDisplay,
    ClearOutput,
    CompletedRun,
    UIElementValue,
    WidgetModelUpdate,
    InputRequest,
    CompletionResult,
    Variables,
    KernelError,
    PackagesInstalled,
    VirtualFileNotice,
    KernelStopped,
    KernelDied,
]


class UnknownNotification(msgspec.Struct):
    """A notification whose ``type`` this version does not know: forwarded untouched."""

    type: str
    raw: bytes


# ------------------------------------------------------------------------------ codec

COMMAND_TYPES: dict[str, type[Any]] = {c.__struct_config__.tag: c for c in Command.__args__}
NOTIFICATION_TYPES: dict[str, type[Any]] = {
    n.__struct_config__.tag: n for n in Notification.__args__
}
UI_COMMANDS = (UpdateUIElement,)
"""Command classes that UI-merge batches (plus ``widget-model`` with method ``update``)."""

_encoder = msgspec.msgpack.Encoder()
_command_decoder = msgspec.msgpack.Decoder(Command)
_notification_decoder = msgspec.msgpack.Decoder(Notification)
_raw_decoder = msgspec.msgpack.Decoder()


class ProtocolError(ValueError):
    """A frame could not be decoded."""


class CommandDecodeError(ProtocolError):
    """A command frame was malformed, of unknown type, or failed validation.

    ``command_type`` is the frame's ``type`` when it could be read, else ``None``.
    """

    def __init__(self, reason: str, command_type: str | None = None) -> None:
        self.reason = reason
        self.command_type = command_type
        self.suppressed = 0
        """Bad frames not reported just before this one (set by :meth:`BadFrames.admit`)."""
        self.total = 0
        """This frame's number among the bad frames the peer counted (0: not counted)."""
        what = f"command {command_type!r}" if command_type else "command"
        super().__init__(f"invalid {what}: {reason}")

    def to_notification(self) -> KernelError:
        """The ``kernel-error`` notification that reports this error to the host."""
        detail = self.reason
        if self.total:
            detail += f" (bad frame {self.total}"
            detail += f"; {self.suppressed} before it not reported)" if self.suppressed else ")"
        return KernelError(message=str(self), command_type=self.command_type, detail=detail)


def encode(message: msgspec.Struct) -> bytes:
    """Encode a command or notification as one msgpack frame (bytes)."""
    if isinstance(message, UnknownNotification):
        return message.raw
    return _encoder.encode(message)


def _peek_type(frame: bytes) -> str | None:
    """The ``type`` field of a frame, or ``None`` if the frame is not a msgpack map with one
    (never raises)."""
    if _refuse_deep(frame):
        return None
    try:
        raw = _raw_decoder.decode(frame)
    except Exception:  # any undecodable frame simply has no readable type
        return None
    if isinstance(raw, dict):
        tag = raw.get("type")
        return tag if isinstance(tag, str) else None
    return None


def _malformed_reason(exc: BaseException) -> str:
    """Why raw bytes are not a msgpack frame, for an error message."""
    if isinstance(exc, RecursionError):
        return "malformed msgpack frame (nested too deeply)"
    if isinstance(exc, UnicodeError):
        return f"malformed msgpack frame (a string is not valid UTF-8: {exc})"
    if isinstance(exc, MemoryError):
        return "malformed msgpack frame (too large to decode)"
    if isinstance(exc, msgspec.DecodeError):
        return f"malformed msgpack frame ({exc})"
    return f"malformed msgpack frame ({type(exc).__name__}: {exc})"


MAX_NESTING = 500
"""Deepest container nesting a frame may have where the decoder cannot refuse deeper frames
itself (see :func:`nested_too_deep`)."""

_CHECK_NESTING = sys.platform == "emscripten"
"""In Pyodide, msgspec decoding a frame nested a few thousand levels deep overflows the
WebAssembly stack (a fatal error that ends the runtime) before Python's recursion check
fires; on CPython msgspec raises ``RecursionError``, which the decoders report."""

def _refuse_deep(frame: bytes | bytearray | memoryview) -> bool:
    return _CHECK_NESTING and nested_too_deep(frame, MAX_NESTING)


def decode_command(frame: bytes | bytearray | memoryview) -> Command:
    """Decode one msgpack command frame.  Never raises anything but
    :class:`CommandDecodeError`, whatever the bytes (fuzzed in ``tests/fuzz``).

    Raises:
        CommandDecodeError: truncated or non-msgpack bytes, a string that is not UTF-8, a
            frame nested too deeply, a frame that is not a map, an unknown ``type``, or a
            known type whose fields fail validation (missing required field, wrong type).
            The message names the type (when it can be read) and the reason.
    """
    if _refuse_deep(frame):
        raise CommandDecodeError(f"malformed msgpack frame (nested more than {MAX_NESTING} levels deep)")
    try:
        return _command_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        tag = _peek_type(bytes(frame))
        if tag is not None and tag not in COMMAND_TYPES:
            raise CommandDecodeError(f"unknown command type {tag!r}", tag) from None
        raise CommandDecodeError(str(exc), tag) from None
    except Exception as exc:  # DecodeError, UnicodeDecodeError, RecursionError...
        raise CommandDecodeError(_malformed_reason(exc)) from None


def decode_notification(frame: bytes | bytearray | memoryview) -> Notification | UnknownNotification:
    """Decode one msgpack notification frame.  Never raises anything but
    :class:`ProtocolError`, whatever the bytes.

    A frame whose ``type`` is not known to this version becomes an
    :class:`UnknownNotification` (tag + raw bytes).

    Raises:
        ProtocolError: malformed msgpack (truncated, invalid UTF-8, nested too deeply...), or
            a known type that fails validation.
    """
    if _refuse_deep(frame):
        raise ProtocolError(f"malformed msgpack frame (nested more than {MAX_NESTING} levels deep)")
    try:
        return _notification_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        data = bytes(frame)
        tag = _peek_type(data)
        if tag is not None and tag not in NOTIFICATION_TYPES:
            return UnknownNotification(type=tag, raw=data)
        raise ProtocolError(f"invalid notification {tag!r}: {exc}") from None
    except Exception as exc:  # DecodeError, UnicodeDecodeError, RecursionError...
        raise ProtocolError(_malformed_reason(exc)) from None


class BadFrames:
    """Counts the undecodable frames one peer received and rate-limits the error
    notifications about them (a token bucket), so a flood of bad frames costs the peer
    neither a flood of notifications nor unbounded queues.

    Every bad frame is counted (:attr:`count`); :meth:`admit` says whether this one may be
    reported.  A report made after some were suppressed says how many
    (:attr:`CommandDecodeError.suppressed`).

    Args:
        burst: reports allowed back to back.
        per_second: reports allowed per second in the long run.
        clock: monotonic clock in seconds (for tests).
    """

    def __init__(self, burst: int = 20, per_second: float = 2.0, clock: Any = None) -> None:
        import time

        self.burst = burst
        self.per_second = per_second
        self._clock = clock or time.monotonic
        self._tokens = float(burst)
        self._last = self._clock()
        self.count = 0
        """Bad frames received in all."""
        self.reported = 0
        """Bad frames reported."""
        self._suppressed = 0

    @property
    def suppressed(self) -> int:
        """Bad frames counted but not reported so far."""
        return self.count - self.reported

    def admit(self, error: ProtocolError | None = None) -> bool:
        """Count one bad frame; ``True`` if it may be reported now.  When ``error`` is a
        :class:`CommandDecodeError` it learns its number among the bad frames and how many
        were suppressed before it (both end up in its notification's ``detail``)."""
        self.count += 1
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.per_second)
        self._last = now
        if self._tokens < 1.0:
            self._suppressed += 1
            return False
        self._tokens -= 1.0
        self.reported += 1
        if isinstance(error, CommandDecodeError):
            error.suppressed, error.total = self._suppressed, self.count
        self._suppressed = 0
        return True


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12, as produced by msgspec) of the command and notification unions."""
    (commands, notifications), components = msgspec.json.schema_components(
        [Command, Notification], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "amphikernel protocol",
        "protocol_version": PROTOCOL_VERSION,
        "commands": commands,
        "notifications": notifications,
        "$defs": components,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m lifecycle.protocol --schema``: print the protocol's JSON Schema."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--schema"]:
        print("usage: python -m lifecycle.protocol --schema", file=sys.stderr)
        return 2
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
