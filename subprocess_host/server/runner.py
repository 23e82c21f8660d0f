"""Running the application under uvicorn: binding, serving, stopping.

:class:`ServerRunner` binds the listening socket itself (so the port is known, and a busy
port is reported, before uvicorn starts), serves until :meth:`ServerRunner.request_stop`, and
always stops every kernel afterwards, even when uvicorn skips the lifespan shutdown (a second
Ctrl-C).  It installs no signal handlers: the command line does
(:func:`subprocess_host.server.serve_notebook`), tests call :meth:`request_stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from urllib.parse import quote

import uvicorn

from subprocess_host.server.app import create_app
from subprocess_host.server.config import ServerConfig
from subprocess_host.server.registry import SessionManager
from subprocess_host.server.ws_protocol import LazyPauseProtocol

log = logging.getLogger("amphikernel.server")

WS_MAX_FRAME_BYTES = 64 * 1024 * 1024
"""Largest frame a page may send (a big notebook save)."""

GRACEFUL_SHUTDOWN_SECONDS = 15
"""How long uvicorn waits for open connections (run-mode kernels stopping) at shutdown."""


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (``port`` 0: a free one).

    Raises:
        OSError: the address cannot be resolved or bound (e.g. the port is busy).
    """
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def display_url(host: str, port: int, token: str | None) -> str:
    """The URL to open: a wildcard bind address is shown as loopback, IPv6 in brackets,
    the token as ``?token=`` (quoted)."""
    name = host.strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    if ":" in name:
        name = f"[{name}]"
    query = f"?token={quote(token, safe='')}" if token is not None else ""
    return f"http://{name}:{port}/{query}"


class ServerRunner:
    """One server: the application, its socket and the uvicorn server.

    Args:
        config: the resolved configuration.

    Raises:
        lifecycle.notebook.NotebookFormatError, OSError: the main notebook cannot be opened.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.manager: SessionManager = self.app.state.manager
        self.socket: socket.socket | None = None
        self.port: int | None = None
        self.server = _Server(
            uvicorn.Config(
                self.app,
                lifespan="on",
                log_config=None,
                access_log=False,
                server_header=False,
                ws=LazyPauseProtocol,  # uvicorn's websockets-sansio, pausing reads only when needed
                ws_max_size=WS_MAX_FRAME_BYTES,
                ws_per_message_deflate=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        )

    def bind(self) -> int:
        """Bind the listening socket; returns the port.

        Raises:
            OSError: as :func:`bind_socket`.
        """
        self.socket = bind_socket(self.config.host, self.config.port)
        self.port = self.socket.getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        """The URL to open (after :meth:`bind`)."""
        assert self.port is not None, "bind() first"
        return display_url(self.config.host, self.port, self.config.token)

    @property
    def started(self) -> bool:
        """Whether uvicorn is accepting connections."""
        return self.server.started

    async def serve(self) -> None:
        """Serve until :meth:`request_stop`; then stop every kernel.  Binds first if
        :meth:`bind` was not called."""
        if self.socket is None:
            self.bind()
        assert self.socket is not None
        try:
            await self.server.serve(sockets=[self.socket])
        finally:
            await self.manager.close()
            self.socket.close()

    async def wait_started(self, serving: asyncio.Future[None], poll: float = 0.01) -> bool:
        """Wait until the server listens (``True``) or ``serving`` ends first (``False``)."""
        while not self.server.started:
            if serving.done():
                return False
            await asyncio.sleep(poll)
        return True

    def request_stop(self, signum: int | None = None) -> None:
        """Ask the server to stop (thread-safe: sets a flag uvicorn polls).  A second
        ``SIGINT`` skips waiting for connections; kernels are stopped either way."""
        if self.server.should_exit and signum == signal.SIGINT:
            self.server.force_exit = True
        self.server.should_exit = True
