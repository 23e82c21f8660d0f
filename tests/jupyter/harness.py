"""Driving the ``amphi`` kernel with jupyter_client: start it, send requests (with the cell id
in the metadata, as JupyterLab does), and collect every iopub message of a request up to its
``idle``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

TIMEOUT = 60.0


@dataclass
class Reply:
    """A request's shell reply and its iopub messages (``busy`` .. ``idle`` excluded)."""

    reply: dict[str, Any]
    iopub: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, *msg_types: str) -> list[dict[str, Any]]:
        return [msg for msg in self.iopub if msg["msg_type"] in msg_types]

    @property
    def kinds(self) -> list[str]:
        return [msg["msg_type"] for msg in self.iopub]


@contextlib.contextmanager
def kernel(name: str = "amphi", **kwargs: Any) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A started kernel and its client; shut down on exit."""
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT, **kwargs)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.has_kernel:  # a test may have shut it down itself
            km.shutdown_kernel(now=False)


def collect(kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Every iopub message parented to ``msg_id`` up to its ``idle`` (status messages left out)."""
    out = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status":
            if msg["content"]["execution_state"] == "idle":
                return out
            continue
        out.append(msg)


def execute(kc: BlockingKernelClient, code: str, cell_id: str | None = None, timeout: float = TIMEOUT,
            id_key: str = "cellId", **content: Any) -> Reply:  # fmt: skip
    """Run ``code`` (as cell ``cell_id`` when given, in ``metadata[id_key]``) and wait for its
    reply and its ``idle``."""
    body = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True, **content}  # fmt: skip
    msg = kc.session.msg("execute_request", body, metadata={id_key: cell_id} if cell_id else {})
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    iopub = collect(kc, msg_id, timeout)
    return Reply(reply_to(kc, msg_id, timeout), iopub)


def reply_to(kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The shell reply to ``msg_id`` (other replies, e.g. start-up ``kernel_info``, skipped)."""
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def plain(msg: dict[str, Any]) -> str:
    """The ``text/plain`` of a display, result or update message."""
    return msg["content"]["data"].get("text/plain", "")
