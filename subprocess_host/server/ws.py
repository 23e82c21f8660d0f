"""``/ws``: one WebSocket per browser tab, msgpack binary frames both ways.

The handshake picks the session: edit mode, the notebook's :class:`EditSession` (the main
notebook, or ``?file=<path>``); run mode, a new :class:`RunSession` with its own kernel
thread.  The browser key is ``?session=<key>`` or the ``amphi_session`` cookie; a client that
has neither gets a fresh key in a ``Set-Cookie`` header of the handshake response, valid for
``/@file/`` while that connection is open.

Each tab is a :class:`WebSocketTab`: :meth:`WebSocketTab.send` queues a frame without ever
blocking the session (a writer task drains the queue with the socket's back-pressure); a tab
whose backlog of live frames exceeds ``max_tab_backlog_bytes`` is closed with code 1013 and
resynchronises when it reconnects (the snapshot and replay a tab gets on connecting do not
count, so resynchronising always succeeds).  A tab that asked for batches (``?batch=1``, as the
page does) gets the frames waiting when its writer runs as one ``frames`` message
(:mod:`subprocess_host.server.batching`).  Frames are read one at a time and handed to the session; text frames
and errors while handling a frame are answered with ``kernel-error`` and the connection
stays open.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from lifecycle import protocol
from lifecycle.notebook import NotebookFormatError
from subprocess_host.server.auth import SESSION_COOKIE, cookie_header, parse_cookies
from subprocess_host.server.batching import MAX_BATCH_BYTES, encode_batch, wants_batches
from subprocess_host.server.registry import NotebookNotFound, SessionManager, is_valid_key, new_key
from subprocess_host.server.session import RunSession, Session

log = logging.getLogger("amphikernel.server")
_tab_numbers = itertools.count(1)


class WebSocketTab:
    """A tab on a WebSocket: a frame queue and the writer task that drains it.

    Args:
        websocket: the accepted socket.
        name: for log lines.
        max_backlog: bytes of unsent frames after which the tab is closed (code 1013).
        batch: send the frames waiting when the writer runs as one ``frames`` message
            (:mod:`subprocess_host.server.batching`; only for clients that asked).
    """

    def __init__(self, websocket: WebSocket, name: str, max_backlog: int, batch: bool = False) -> None:
        self.websocket = websocket
        self.name = name
        self.max_backlog = max_backlog
        self.batch = batch
        self._queue: collections.deque[tuple[bytes, bool]] = collections.deque()
        self._backlog = 0
        self._live = False
        self._wake = asyncio.Event()
        self._closed = False
        self._close_with: tuple[int, str] | None = None
        self.refused = protocol.BadFrames()
        """Frames of this tab the session refused (all counted, answered at a limited rate)."""

    def go_live(self) -> None:
        """From now on frames count towards the backlog limit (the snapshot and replay
        queued before do not: a reconnecting tab must always be able to resynchronise)."""
        self._live = True

    def send(self, frame: bytes) -> None:
        """Queue one frame (dropped once the tab is closed)."""
        if self._closed:
            return
        if self._live:
            self._backlog += len(frame)
            if self._backlog > self.max_backlog:
                log.warning("tab %s: %d bytes of output waiting; closing it (it will resynchronise)",
                            self.name, self._backlog)
                self.close(1013, "too much output waiting; reconnect to resynchronise")
                return
        self._queue.append((frame, self._live))
        self._wake.set()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Drop what is queued and close the connection with ``code``."""
        if self._closed:
            return
        self._closed = True
        self._close_with = (code, reason)
        self._queue.clear()
        self._backlog = 0
        self._wake.set()

    def _next_message(self) -> bytes:
        """The next WebSocket message: the first queued frame, or (batching tab) every
        frame queued now, up to :data:`MAX_BATCH_BYTES`, as one ``frames`` message."""
        queue = self._queue
        frames: list[bytes] = []
        size = 0
        while queue and (not frames or (self.batch and size + len(queue[0][0]) <= MAX_BATCH_BYTES)):
            frame, counted = queue.popleft()
            if counted:
                self._backlog -= len(frame)
            frames.append(frame)
            size += len(frame)
        return frames[0] if len(frames) == 1 else encode_batch(frames)

    def discard(self) -> None:
        """The connection is gone: drop everything, send nothing more."""
        self._closed = True
        self._close_with = None
        self._queue.clear()
        self._backlog = 0
        self._wake.set()

    async def run_writer(self) -> None:
        """Send queued frames in order until the tab is closed."""
        try:
            while True:
                while self._queue:
                    await self.websocket.send_bytes(self._next_message())
                if self._closed:
                    break
                self._wake.clear()
                if not self._queue and not self._closed:
                    await self._wake.wait()
            if self._close_with is not None:
                code, reason = self._close_with
                await self.websocket.close(code, reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away; the reader notices too


def _text_frame_error() -> bytes:
    return protocol.encode(
        protocol.KernelError(message="text frames are not part of the protocol: send msgpack binary frames")
    )


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one tab (see the module docstring)."""
    manager: SessionManager = websocket.app.state.manager
    config = manager.config
    key = websocket.query_params.get("session") or parse_cookies(websocket.scope["headers"]).get(SESSION_COOKIE)
    headers: list[tuple[bytes, bytes]] = []
    minted = key is None or not is_valid_key(key)
    if minted:
        key = new_key()
        headers.append(cookie_header(SESSION_COOKIE, key))
    assert key is not None
    try:
        path = manager.resolve_notebook(websocket.query_params.get("file"))
        session: Session = manager.edit_session(path) if config.mode == "edit" else _run_session(manager, websocket, key)
    except (NotebookNotFound, NotebookFormatError, OSError, RuntimeError) as exc:
        log.warning("WebSocket refused: %s", exc)
        await websocket.close(code=1008)
        return
    manager.bind(key, session)
    client = websocket.client
    tab = WebSocketTab(
        websocket,
        f"{client.host}:{client.port}#{next(_tab_numbers)}" if client else f"#{next(_tab_numbers)}",
        config.max_tab_backlog_bytes,
        batch=wants_batches(websocket.query_params),
    )
    try:
        await websocket.accept(headers=headers)
    except (WebSocketDisconnect, RuntimeError, OSError):
        if isinstance(session, RunSession):
            await manager.end_run_session(session)
        return
    writer = asyncio.get_running_loop().create_task(tab.run_writer())
    session.attach(tab)
    tab.go_live()
    session.start()
    try:
        await _read_frames(websocket, session, tab)
    finally:
        session.detach(tab)
        tab.discard()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        if minted:  # a key nobody else knows: do not let bindings pile up
            manager.unbind(key, session)
        if isinstance(session, RunSession):
            # Shielded: the kernel is stopped even if the server cancels this handler.
            await asyncio.shield(manager.end_run_session(session))


def _run_session(manager: SessionManager, websocket: WebSocket, key: str) -> RunSession:
    """A run session: the app server's managers resume ``?resume=<session id>`` (server
    instances are relays, :mod:`subprocess_host.apps.session`)."""
    resumable = getattr(manager, "run_session_for", None)
    if resumable is not None:
        session: RunSession = resumable(websocket.query_params.get("resume"), key)
        return session
    return manager.new_run_session()


async def _read_frames(websocket: WebSocket, session: Session, tab: WebSocketTab) -> None:
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            if tab.refused.admit():
                tab.send(_text_frame_error())
            continue
        try:
            await session.handle_frame(tab, data)
        except Exception as exc:
            log.exception("tab %s: error while handling a frame", tab.name)
            tab.send(protocol.encode(protocol.KernelError(
                message=f"the server could not handle the frame: {type(exc).__name__}: {exc}"
            )))
