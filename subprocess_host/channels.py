"""ZeroMQ channels between a host and a kernel subprocess.

Host -> kernel: ``control``, ``ui``, ``input``, ``completion`` (host PUSH binds, kernel PULL
connects).  Kernel -> host: ``stream`` (kernel PUSH connects, host PULL binds).  One ZeroMQ
message carries one msgpack frame (:mod:`lifecycle.protocol`).  The host binds TCP on the
loopback interface by default: over ``ipc://`` libzmq can lose the tail of a sender's
messages when it closes at once (libzmq issue #4660), and TCP did not in our tests.
"""

from __future__ import annotations

import msgspec

from lifecycle import protocol

IN_CHANNELS = ("control", "ui", "input", "completion")
OUT_CHANNEL = "stream"


class ChannelAddresses(msgspec.Struct, kw_only=True):
    """ZeroMQ endpoints (``tcp://127.0.0.1:PORT`` or ``ipc://PATH``) of the five channels."""

    control: str
    ui: str
    input: str
    completion: str
    stream: str

    def get(self, channel: str) -> str:
        """The endpoint of one channel by name.  Raises ``KeyError`` for an unknown name."""
        if channel not in (*IN_CHANNELS, OUT_CHANNEL):
            raise KeyError(channel)
        return getattr(self, channel)


def channel_for(command: object) -> str:
    """The host -> kernel channel a command travels on."""
    if isinstance(command, (protocol.UpdateUIElement, protocol.WidgetModel)):
        return "ui"
    if isinstance(command, protocol.InputReply):
        return "input"
    if isinstance(command, protocol.Complete):
        return "completion"
    return "control"
