"""What a page may send in each mode: every frame from a tab is classified here.

:func:`classify` turns one WebSocket frame into a :class:`Forward` (a kernel command to pass
on as the raw frame), a :class:`HostRequest` (a message the server handles) or a
:class:`Refuse` (a ``kernel-error`` notification for the sending tab only).  It is pure: no
I/O, no session state.

* Run (app) mode: a reader may only change UI elements and widgets, answer ``input()`` and
  interrupt (:data:`RUN_MODE_ALLOWED`).  Anything that would run or change code, every host
  request, unknown types and undecodable frames are refused.
* Edit mode: every kernel command except the lifecycle ones the server owns
  (:data:`EDIT_MODE_REFUSED`: ``stop``, ``stopped-ack``; use ``restart-kernel``), plus the
  host requests.  Frames are validated here so that a malformed frame is answered to the tab
  that sent it rather than broadcast by the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle import protocol
from subprocess_host.server.config import Mode
from subprocess_host.server.messages import (
    HOST_COMMAND_TYPES,
    HostCommand,
    HostCommandError,
    decode_host_command,
    peek_type,
)

RUN_MODE_ALLOWED: frozenset[str] = frozenset(
    {"update-ui-element", "widget-model", "input-reply", "interrupt"}
)
"""Command types an app reader may send."""

EDIT_MODE_REFUSED: frozenset[str] = frozenset({"stop", "stopped-ack"})
"""Kernel lifecycle commands only the server sends."""


@dataclass(frozen=True)
class Forward:
    """Pass the frame on to the kernel unchanged; ``command`` is its decoded form."""

    command: Any


@dataclass(frozen=True)
class HostRequest:
    """A host-level request the server handles (never forwarded)."""

    message: HostCommand


@dataclass(frozen=True)
class Refuse:
    """Answer the sending tab with ``error`` (a ``kernel-error``); nothing reaches the kernel."""

    error: protocol.KernelError


Decision = Forward | HostRequest | Refuse


def _refuse(message: str, command_type: str | None, detail: str = "") -> Refuse:
    return Refuse(protocol.KernelError(message=message, command_type=command_type, detail=detail))


def classify(mode: Mode, frame: bytes | bytearray | memoryview) -> Decision:
    """Decide what to do with one frame a tab sent.

    Args:
        mode: the session's mode, ``"edit"`` or ``"run"``.
        frame: the WebSocket binary message (a msgpack map with a ``type``).

    Returns:
        :class:`Forward`, :class:`HostRequest` or :class:`Refuse` (never raises).
    """
    tag = peek_type(frame)
    if tag in HOST_COMMAND_TYPES:
        if mode == "run":
            return _refuse(f"{tag!r} is not allowed in run mode", tag)
        try:
            return HostRequest(decode_host_command(frame))
        except HostCommandError as exc:
            return _refuse(f"invalid command {tag!r}: {exc}", tag, str(exc))
    if mode == "run" and tag not in RUN_MODE_ALLOWED:
        if tag is None:
            return _refuse_undecodable(frame)
        allowed = ", ".join(sorted(RUN_MODE_ALLOWED))
        return _refuse(
            f"{tag!r} is not allowed in run mode (a reader may only send {allowed})", tag
        )
    if mode == "edit" and tag in EDIT_MODE_REFUSED:
        return _refuse(
            f"{tag!r} is managed by the server (send 'restart-kernel' to restart the kernel)",
            tag,
        )
    try:
        command = protocol.decode_command(frame)
    except protocol.CommandDecodeError as exc:
        return Refuse(exc.to_notification())
    decoded = type(command).__struct_config__.tag
    if decoded != tag or (mode == "run" and decoded not in RUN_MODE_ALLOWED):
        # Defence in depth: the peeked type and the decoded one must agree (a frame with
        # two ``type`` keys, say), and a run-mode frame is judged by what it decodes to.
        where = "in run mode" if mode == "run" else "here"
        return _refuse(
            f"{decoded!r} is not allowed {where} (the frame's type reads as {tag!r})", decoded
        )
    return Forward(command)


def _refuse_undecodable(frame: bytes | bytearray | memoryview) -> Refuse:
    try:
        protocol.decode_command(frame)
    except protocol.CommandDecodeError as exc:
        return Refuse(exc.to_notification())
    return _refuse("invalid command: the frame has no 'type'", None)  # pragma: no cover
