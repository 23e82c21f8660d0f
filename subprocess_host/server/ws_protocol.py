"""uvicorn's ``websockets-sansio`` WebSocket protocol, pausing reads only when the app lags.

uvicorn pauses reading the socket after every message it queues for the application and
resumes when the application has taken it (back-pressure: a client cannot fill the server's
memory faster than the application reads).  On a selector event loop each pause/resume pair
is two ``epoll_ctl`` system calls plus the selector's bookkeeping: with a reader moving a
slider, ~6-10% of the server's CPU per move, although the application (one reader task per
tab, :mod:`subprocess_host.server.ws`) is always already waiting for the next message.

:class:`LazyPauseProtocol` keeps the same back-pressure but defers the pause to the end of the
current event-loop iteration: the message wakes the application's waiting ``receive()``,
which runs before the deferred pause and resumes reading, and the pause is then skipped.  If
the application has not taken the message by then (it is busy, or messages pile up), reading
is paused exactly as uvicorn does.

It also reads the socket in chunks of :data:`RECV_CHUNK_BYTES` instead of asyncio's 256 KiB:
each ``recv`` allocates a bytes object of the requested size and shrinks it to what arrived,
and at 256 KiB (above glibc's ``malloc`` mmap threshold, 128 KiB) that is an ``mmap``, an
``mremap`` and a ``munmap`` (with its page faults and TLB flush) for every message of a few
dozen bytes.  A large message is simply read in more chunks.  Nothing else changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

RECV_CHUNK_BYTES = 64 * 1024
"""Bytes asked for per ``recv`` on a WebSocket connection (below glibc's mmap threshold)."""


class _LazyPauseTransport:
    """A transport whose ``pause_reading`` takes effect one loop iteration later, unless
    ``resume_reading`` came first.  Everything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pause_pending: asyncio.Handle | None = None

    def pause_reading(self) -> None:
        if self._pause_pending is None:
            loop = asyncio.get_running_loop()
            self._pause_pending = loop.call_soon(self._pause_now)

    def _pause_now(self) -> None:
        self._pause_pending = None
        if not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        pending = self._pause_pending
        if pending is not None:  # the application took the message in time: never paused
            pending.cancel()
            self._pause_pending = None
            return
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LazyPauseProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with :class:`_LazyPauseTransport` (see the
    module docstring); pass the class as ``uvicorn.Config(ws=...)``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(getattr(transport, "max_size", None), int):  # asyncio's selector transport
            transport.max_size = RECV_CHUNK_BYTES  # type: ignore[attr-defined]
        super().connection_made(_LazyPauseTransport(transport))  # type: ignore[arg-type]
