"""The Jupyter side's transport pieces: the connection file and the heartbeat socket.

A connection file (Jupyter messaging protocol, "Connection files") names the transport, the
address, one port per channel (shell, iopub, stdin, control, hb) and the HMAC signing key.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass

import zmq


@dataclass
class Connection:
    """A Jupyter connection file's contents (ports, address, signing key)."""

    ip: str
    transport: str
    key: bytes
    signature_scheme: str
    ports: dict[str, int]

    @classmethod
    def load(cls, path: str) -> Connection:
        """Read a connection file.

        Raises:
            OSError: unreadable; ValueError: not a connection file.
        """
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        try:
            ports = {name: int(info[f"{name}_port"]) for name in ("shell", "iopub", "stdin", "control", "hb")}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a Jupyter connection file ({exc})") from None
        return cls(
            ip=str(info.get("ip", "127.0.0.1")), transport=str(info.get("transport", "tcp")),
            key=str(info.get("key", "")).encode(), signature_scheme=str(info.get("signature_scheme", "hmac-sha256")),
            ports=ports,
        )  # fmt: skip

    def address(self, name: str) -> str:
        port = self.ports[name]
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{port}"
        return f"{self.transport}://{self.ip}:{port}"


class Heartbeat:
    """Echoes every heartbeat message back, on its own thread and context."""

    def __init__(self, address: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(address)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="amphi-jupyter-heartbeat", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(100):
                with contextlib.suppress(zmq.ZMQError):
                    self.sock.send_multipart(self.sock.recv_multipart())

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2.0)
        self.sock.close(0)
        self.ctx.term()
