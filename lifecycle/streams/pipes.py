"""Descriptor-level helpers of fd mode: flushing stdio, pipes, and the sync token.

Platform modules (``fcntl``, ``termios``, ``select``, ``ctypes``) are imported inside the
functions that use them, so importing the package stays light and works where they are
missing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("lifecycle.streams")  # one logger for the whole package
_PIPE_SIZE = 1 << 20


def _flush_quietly(stream: Any) -> None:
    if stream is None:
        return
    try:
        stream.flush()
    except Exception:  # a closed or broken stream must not break the cell boundary
        pass


_fflush: Any = None


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: push C-level stdio buffers into the file descriptors (best effort)."""
    global _fflush
    if _fflush is None:
        _fflush = False
        try:
            import ctypes

            libc = ctypes.CDLL("ucrtbase" if os.name == "nt" else None)
            fflush = libc.fflush
            fflush.argtypes = [ctypes.c_void_p]
            fflush.restype = ctypes.c_int
            _fflush = fflush
        except (ImportError, OSError, AttributeError):
            _log.debug("C stdio cannot be flushed on this platform", exc_info=True)
    if _fflush:
        _fflush(None)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass


def _enlarge_pipe(fd: int) -> None:
    """Give a pipe 1 MiB of buffer where the OS allows (Linux), so C code writing a lot while
    holding the GIL does not block before the reader thread gets to run."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


def _partial_token_length(data: bytes, token: bytes) -> int:
    """Length of the longest suffix of ``data`` that is a proper prefix of ``token``."""
    start = max(0, len(data) - len(token) + 1)
    if data.find(token[:1], start) < 0:
        return 0
    for size in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:size]):
            return size
    return 0


def _pending_bytes(fd: int) -> int:
    """Bytes waiting in a pipe (``FIONREAD``)."""
    import fcntl
    import termios

    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def _readable_waiter(fd: int) -> Callable[[], None]:
    """A function that blocks until ``fd`` is readable (or closed/hung up)."""
    import select

    if hasattr(select, "poll"):
        poll = select.poll()
        poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return lambda: poll.poll()
    return lambda: select.select([fd], [], [])
