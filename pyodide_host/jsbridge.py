"""JavaScript values for the Pyodide session: what :func:`pyodide_host.session.create_session`
turns into plain Python callables.

* :func:`frame_sender`: a JS function receiving one ``Uint8Array`` per frame, as
  ``send(bytes)`` (Python callables pass through).
* :func:`input_replier`: a JS function ``(requestId) -> string`` that blocks until the page
  answers an ``input-request``, as ``wait_reply(request) -> str``.  Replies of up to
  :data:`STDIN_LIMIT` bytes cross the stdin ``SharedArrayBuffer`` in chunks
  (``web/src/transport/stdin-channel.ts``); a longer one is refused by the page and
  ``input()`` raises :class:`InputTooLargeError` (nothing is truncated).
* :func:`install_sleep`: ``time.sleep`` through a JS function that blocks the worker.

Imports only the standard library and :mod:`lifecycle` at import time; ``pyodide.ffi`` only
when given JavaScript values (inside Pyodide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle import protocol

__all__ = [
    "STDIN_LIMIT",
    "InputTooLargeError",
    "Send",
    "WaitReply",
    "frame_sender",
    "input_replier",
    "install_sleep",
    "is_js",
    "is_js_nullish",
]

STDIN_LIMIT = 16 * 1024 * 1024
"""The longest ``input()`` reply a page sends to the kernel's worker, in UTF-8 bytes (16 MiB;
``STDIN_LIMIT`` in ``web/src/transport/worker-contract.ts``)."""


class InputTooLargeError(ValueError):
    """The reply typed or pasted for ``input()`` is longer than :data:`STDIN_LIMIT` bytes.

    Attributes:
        size: the reply's length in UTF-8 bytes (as reported by the page).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"the reply to input() is {size:,} bytes (UTF-8), more than the {STDIN_LIMIT:,} bytes "
            f"({STDIN_LIMIT // (1024 * 1024)} MiB) a page can send to a kernel running in the browser; "
            "nothing was received. Read large data from a file or a URL instead."
        )

Send = Callable[[bytes], Any]
WaitReply = Callable[[protocol.InputRequest], str]


def frame_sender(send: Any) -> Send:
    """``send`` as a ``(bytes) -> Any`` callable: a JS function gets a ``Uint8Array``."""
    if not is_js(send):
        return send
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    js_send = send

    def sender(frame: bytes) -> None:
        js_send(to_js(frame))

    return sender


def input_replier(wait_reply: Any) -> WaitReply | None:
    """``wait_reply`` (a JS function ``(requestId) -> string``) as ``(request) -> str``, or
    ``None`` for ``null``/``undefined``.  An answer of ``null``/``undefined`` means the wait
    was interrupted: the cell gets ``KeyboardInterrupt``; a number is the size in bytes of a
    reply the page refused as too long: the cell gets :class:`InputTooLargeError`."""
    if wait_reply is None or is_js_nullish(wait_reply):
        return None
    js_wait = wait_reply

    def replier(request: protocol.InputRequest) -> str:
        answer = js_wait(request.request_id)
        if answer is None or is_js_nullish(answer):
            raise KeyboardInterrupt("input() was interrupted")
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            raise InputTooLargeError(int(answer))
        return str(answer)

    return replier


def install_sleep(wait: Callable[[float], Any]) -> None:
    """Replace ``time.sleep`` with one that blocks through ``wait(seconds)`` (see
    :func:`pyodide_host.session.create_session`'s ``sleep``).  An interrupt that ends the wait
    early is raised by the interpreter right after it returns, inside the sleeping code."""
    import time

    def sleep(seconds: float) -> None:
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        wait(seconds)

    sleep.__doc__ = time.sleep.__doc__
    time.sleep = sleep


def is_js(value: Any) -> bool:
    """Whether ``value`` is a Pyodide proxy of a JavaScript object."""
    return type(value).__module__ == "pyodide.ffi" or type(value).__name__.startswith("Js")


def is_js_nullish(value: Any) -> bool:
    """Whether ``value`` is ``None`` or JavaScript's ``null``."""
    if value is None:
        return True
    try:
        from pyodide.ffi import JsNull  # type: ignore[import-not-found]
    except ImportError:
        return False
    return isinstance(value, JsNull)
