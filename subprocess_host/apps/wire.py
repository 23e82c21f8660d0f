"""The wire format between the server and an app process (no sockets here, no I/O).

Four ZeroMQ sockets per app process, shared by every session (kernel thread) of the app; the
app process binds them (CURVE server), the server connects (CURVE client):

====== ============================ =================================================
name   socket types (app / server)   frames
====== ============================ =================================================
mgmt   ROUTER / DEALER               ``[msgpack request]`` -> ``[msgpack reply]``
events ROUTER / DEALER               ``[msgpack event]`` (app -> server, unsolicited)
cmd    PULL / PUSH                   ``[session id, channel, command frame]``
stream ROUTER / DEALER               ``[session id, notification frame]``
====== ============================ =================================================

Several server instances may connect to one app process (server instances are relays).  Each
instance's DEALERs carry its instance id as their ZeroMQ routing id, and each session is
*attached* to one instance: its ``stream`` frames and its ``events`` go to exactly that
instance (the app's ROUTER prefixes the routing id; frames for an instance that is gone are
dropped, which loses nothing: the session's resync state lives in the app process, see
:mod:`subprocess_host.apps.resync`).  ``create-kernel`` attaches the new session to the
instance that asked; ``attach-session`` re-points an existing session to the instance that
asks and sends it the session's resync frames first, then its live frames (no gap, no
duplicate); ``detach-session`` and an instance whose heartbeat (``ping``) stops start the
session's grace period, after which the app stops it.

Why these types: management is request/reply with several requests in flight (a
``create-kernel`` must not wait behind a slow ``stop-kernel``), so a DEALER (no lockstep,
unlike REQ) talks to a ROUTER, which routes each reply back to the peer that asked (a second
server instance re-attaching with :meth:`AppProvisioner.from_info` gets its own replies).
Commands flow one way, in order, from any instance: PUSH/PULL (fan-in).  Notifications and
events must reach one chosen instance, not a round-robin pick: ROUTER (app) / DEALER
(instance, routing id = instance id).  Session ids and channels are
their own ZeroMQ frames (``ARCHITECTURE.md``: multiplexed channels prefix the session id).

Every decoder here returns ``None`` (or a :class:`MgmtError`) on bad input and never raises:
:func:`decode_mux` is the one function a fuzzer should drive for the ``cmd`` and ``stream``
sockets, :func:`decode_mgmt_request` for ``mgmt``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

import msgspec

PROTOCOL_VERSION = 1
"""The protocol version an app process announces: always equal to
:data:`lifecycle.protocol.PROTOCOL_VERSION` (a test checks), repeated here because importing
:mod:`lifecycle.protocol` would add about 40 ms before the ready line."""

READY_WORD = b"APP_READY"
"""First word of the app process's ready line on stdout (then one JSON object)."""

CHANNELS: frozenset[bytes] = frozenset({b"control", b"ui", b"input", b"completion"})
"""The channels a ``cmd`` frame may name (as :mod:`subprocess_host.channels`)."""

SOCKETS = ("mgmt", "events", "cmd", "stream")

_SESSION_ID = re.compile(rb"[A-Za-z0-9_-]{1,64}")


class AppLaunchArgs(msgspec.Struct, kw_only=True):
    """What the server writes on an app process's stdin (one JSON object, then a newline;
    stdin stays open: its EOF means the server is gone).

    Attributes:
        notebook: absolute path of the app's notebook (its directory becomes the working
            directory and the first entry of ``sys.path``).
        server_public_key: the server's CURVE public key (Z85 text); the only client key the
            app process accepts.
        host: interface to bind (default loopback).
        semantics: ``"script"`` or ``"strict"``.
        parent_pid: the server's pid (the app exits when it is gone).
        name: the app's name, for log lines.
        detached: shared by several server instances: the app does not end with its
            launcher (stdin EOF, parent pid) but when it has had no session and no instance
            heartbeat for ``grace`` seconds.
        grace: seconds a session without an attached instance is kept before it is stopped.
        registry_entry: a file the app removes when it exits (its directory entry), if the
            file still names its pid.
    """

    notebook: str
    server_public_key: str
    host: str = "127.0.0.1"
    semantics: Literal["script", "strict"] = "script"
    parent_pid: int | None = None
    name: str = "app"
    detached: bool = False
    grace: float = 60.0
    registry_entry: str = ""


class AppReady(msgspec.Struct, kw_only=True):
    """The ready line's JSON: ``APP_READY {...}``.

    Attributes:
        protocol: :data:`lifecycle.protocol.PROTOCOL_VERSION` of the app process.
        pid: its process id.
        python: its interpreter version, ``"3.x.y"``.
        public_key: its CURVE server public key (Z85 text).
        endpoints: socket name (:data:`SOCKETS`) -> ``tcp://host:port``.
    """

    protocol: int
    pid: int
    python: str
    public_key: str
    endpoints: dict[str, str]


# ------------------------------------------------------------------ management


class _Mgmt(msgspec.Struct, tag_field="type", kw_only=True):
    request_id: int = 0


class CreateKernel(_Mgmt, tag="create-kernel"):
    """Start a kernel thread for ``session`` (a fresh id; its frames may follow at once),
    attached to the instance that asks; ``key`` is the reader's browser key (only a reader
    with the same key may attach to it later)."""

    session: str
    key: str = ""


class AttachSession(_Mgmt, tag="attach-session"):
    """Re-point ``session``'s output to the instance that asks and send it the session's
    resync frames first (answered ``ok``; ``error`` for an unknown session or another key)."""

    session: str
    key: str = ""


class DetachSession(_Mgmt, tag="detach-session"):
    """The reader of ``session`` left the instance that asks: its grace period starts
    (ignored unless that instance is the one attached)."""

    session: str


class StopKernel(_Mgmt, tag="stop-kernel"):
    """Stop the kernel thread of ``session`` (interrupting its running cell)."""

    session: str


class Ping(_Mgmt, tag="ping"):
    """Ask for :class:`Status`; also the instance's heartbeat (sent every second)."""


class Shutdown(_Mgmt, tag="shutdown"):
    """Stop every kernel and exit; answered with :class:`Ok` just before the sockets close."""


MgmtRequest = CreateKernel | AttachSession | DetachSession | StopKernel | Ping | Shutdown


class Ok(_Mgmt, tag="ok"):
    """The request succeeded."""


class MgmtError(_Mgmt, tag="error"):
    """The request failed (or could not be decoded): ``message`` says why."""

    message: str = ""


class Status(_Mgmt, tag="status"):
    """Answer to :class:`Ping`: live sessions, frames dropped for unknown sessions, pid."""

    sessions: list[str] = []
    dropped: int = 0
    pid: int = 0


class KernelEnded(_Mgmt, tag="kernel-ended"):
    """Event: the kernel thread of ``session`` has finished (``returncode`` 0: clean)."""

    session: str
    returncode: int = 0
    reason: str = ""


class Dropped(_Mgmt, tag="dropped"):
    """Event: frames for sessions the app does not know were dropped (running total)."""

    total: int = 0


MgmtMessage = (CreateKernel | AttachSession | DetachSession | StopKernel | Ping | Shutdown | Ok | MgmtError | Status
               | KernelEnded | Dropped)

_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(MgmtRequest)
_message_decoder = msgspec.msgpack.Decoder(MgmtMessage)


def encode_mgmt(message: Any) -> bytes:
    """Encode one management message (msgpack)."""
    return _encoder.encode(message)


def decode_mgmt_request(frame: bytes | memoryview) -> MgmtRequest | MgmtError:
    """Decode a management request; a :class:`MgmtError` (to send back) on bad input.
    Never raises."""
    try:
        return _request_decoder.decode(frame)
    except Exception as exc:  # msgspec errors, and anything a hostile frame provokes
        return MgmtError(message=f"invalid management request: {exc}")


def decode_mgmt_message(frame: bytes | memoryview) -> Any | None:
    """Decode a management reply or event (server side); ``None`` on bad input.  Never
    raises."""
    try:
        return _message_decoder.decode(frame)
    except Exception:
        return None


def decode_mux(frames: list[Any], with_channel: bool) -> tuple[str, bytes, bytes] | None:
    """Split one multiplexed message into ``(session id, channel, payload)``.

    Args:
        frames: the ZeroMQ frames (``bytes`` or objects with ``.bytes``).
        with_channel: ``True`` for ``cmd`` (``[session, channel, payload]``), ``False`` for
            ``stream`` (``[session, payload]``; the channel returned is ``b""``).

    Returns:
        ``None`` for a malformed message (wrong frame count, a session id that is not 1-64
        URL-safe characters, an unknown channel).  Never raises.
    """
    try:
        parts = [f if isinstance(f, bytes) else bytes(getattr(f, "bytes", f)) for f in frames]
        if with_channel:
            if len(parts) != 3 or parts[1] not in CHANNELS:
                return None
            session, channel, payload = parts
        else:
            if len(parts) != 2:
                return None
            session, payload = parts
            channel = b""
        if not _SESSION_ID.fullmatch(session):
            return None
        return session.decode("ascii"), channel, payload
    except Exception:
        return None


def is_routing_id(value: str) -> bool:
    """Whether ``value`` can be a server instance id / session id (1-64 URL-safe
    characters)."""
    return isinstance(value, str) and _SESSION_ID.fullmatch(value.encode("ascii", "replace")) is not None


def encode_ready(ready: AppReady) -> bytes:
    """The ready line, newline included."""
    return READY_WORD + b" " + msgspec.json.encode(ready) + b"\n"


def parse_ready(line: bytes) -> AppReady | None:
    """Parse a ready line (``None`` if ``line`` is not one)."""
    word, _, rest = line.strip().partition(b" ")
    if word != READY_WORD:
        return None
    try:
        return msgspec.json.decode(rest, type=AppReady)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0; a process of another user counts as alive;
    a zombie, which has exited but not been reaped, does not).

    Never raises for a missing process; ``pid`` must be a positive int.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rpartition(b")")[2].split()[:1]
        return state != [b"Z"]
    except OSError:
        return True
