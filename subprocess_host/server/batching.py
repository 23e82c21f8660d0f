"""Batched WebSocket messages: several frames waiting for one tab sent as one message.

A page that connects with ``/ws?batch=1`` says it understands the ``frames`` host message::

    {"type": "frames", "frames": [<bin>, <bin>, ...]}

whose items are ordinary frames (msgpack maps with a ``type``), byte for byte as they would
have been sent on their own, in order.  The server sends one whenever more than one frame is
waiting for the tab when its writer runs (a slider move makes five: ``queued``, ``running``,
the output, ``idle``, ``completed-run``), so a move costs one WebSocket message (one ASGI
send, one frame header, one ``send`` system call) instead of five.  A lone frame is still
sent as itself, and a client that did not ask (no ``batch=1``) never gets a ``frames``
message: every existing client reads exactly what it read before.

``frames`` is a host-level type: no kernel notification uses it, and a batch never nests.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

BATCH_QUERY = "batch"
"""Query parameter of ``/ws`` by which a client asks for ``frames`` messages (value ``1``)."""

FRAMES_TYPE = "frames"
"""The ``type`` of a batch message."""

MAX_BATCH_BYTES = 256 * 1024
"""A batch stops growing at this many bytes of frames (a bigger frame is sent on its own)."""


class Frames(msgspec.Struct, tag_field="type", tag=FRAMES_TYPE):
    """Server -> page: ``frames`` in order, each exactly one ordinary frame."""

    frames: list[bytes]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Frames)
_PREFIX = _encoder.encode(Frames(frames=[]))[:-1]
"""The bytes every encoded batch starts with (a two-key map: ``type``, then ``frames``)."""


def wants_batches(query: Mapping[str, str]) -> bool:
    """Whether a WebSocket handshake's query parameters ask for ``frames`` messages."""
    return query.get(BATCH_QUERY) == "1"


def encode_batch(frames: list[bytes]) -> bytes:
    """One ``frames`` message carrying ``frames`` (encoded msgpack frames) unchanged."""
    return _encoder.encode(Frames(frames=frames))


def split_message(message: bytes) -> list[bytes]:
    """The frames a WebSocket message carries: a ``frames`` batch's items, else the message
    itself (for Python clients that asked for batches; the page does the same in
    ``web/src/transport/websocket.ts``).

    Raises:
        msgspec.DecodeError: ``message`` starts like a batch but is not a valid one.
    """
    if message.startswith(_PREFIX):
        return _decoder.decode(message).frames
    return [message]
