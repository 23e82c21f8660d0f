"""JavaScript values for the Pyodide session: what :func:`pyodide_host.session.create_session`
turns into plain Python callables.

* :func:`frame_sender`: a JS function receiving one ``Uint8Array`` per frame, as
  ``send(bytes)`` (Python callables pass through).
* :func:`input_replier`: a JS function ``(requestId) -> string`` that blocks until the page
  answers an ``input-request``, as ``wait_reply(request) -> str``.
* :func:`install_sleep`: ``time.sleep`` through a JS function that blocks the worker.

Imports only the standard library and :mod:`lifecycle` at import time; ``pyodide.ffi`` only
when given JavaScript values (inside Pyodide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle import protocol

__all__ = ["Send", "WaitReply", "frame_sender", "input_replier", "install_sleep", "is_js", "is_js_nullish"]

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
    was interrupted: the cell gets ``KeyboardInterrupt``."""
    if wait_reply is None or is_js_nullish(wait_reply):
        return None
    js_wait = wait_reply

    def replier(request: protocol.InputRequest) -> str:
        answer = js_wait(request.request_id)
        if answer is None or is_js_nullish(answer):
            raise KeyboardInterrupt("input() was interrupted")
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
