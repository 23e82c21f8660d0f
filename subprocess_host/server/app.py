"""The Starlette application of the local server: routes, access control, lifespan.

Routes:

* ``GET /``: the notebook page (:mod:`subprocess_host.server.page`);
* ``/ws``: the WebSocket of a tab (:mod:`subprocess_host.server.ws`);
* ``GET /@file/<id>-<filename>``: virtual files (:mod:`subprocess_host.server.files`);
* ``/static/...``: files of ``subprocess_host/static``;
* anything else: files of the built frontend bundle (``ServerConfig.web_dist``) once it
  exists, else 404.

Every request and handshake goes through :class:`~subprocess_host.server.auth.AccessMiddleware`.
The lifespan's shutdown stops every kernel (:meth:`SessionManager.close`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from subprocess_host.server.auth import Access, AccessMiddleware
from subprocess_host.server.config import STATIC_DIR, ServerConfig
from subprocess_host.server.files import file_endpoint
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.page import page_endpoint
from subprocess_host.server.registry import SessionManager
from subprocess_host.server.ws import websocket_endpoint


class BundleFiles:
    """Serves files of the built frontend directory if (and once) it exists; 404 before."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._static: StaticFiles | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.config.web_dist.is_dir():
            await PlainTextResponse("404 Not Found\n", status_code=404)(scope, receive, send)
            return
        if self._static is None:
            self._static = StaticFiles(directory=self.config.web_dist)
        await self._static(scope, receive, send)


def open_main_document(config: ServerConfig) -> NotebookDocument:
    """Read the main notebook (edit mode: create it first if missing).

    Raises:
        lifecycle.notebook.NotebookFormatError: not a valid notebook.
        OSError: cannot be read or created.
    """
    return NotebookDocument.open(config.notebook, create=config.mode == "edit")


def create_app(config: ServerConfig, document: NotebookDocument | None = None) -> Starlette:
    """Build the application; ``app.state.manager`` is its :class:`SessionManager`.

    Args:
        config: the resolved configuration.
        document: the main notebook, already opened (default: :func:`open_main_document`).

    Raises:
        lifecycle.notebook.NotebookFormatError, OSError: as :func:`open_main_document`.
    """
    manager = SessionManager(config, document or open_main_document(config))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await manager.close()

    app = Starlette(
        routes=[
            Route("/", page_endpoint, methods=["GET", "HEAD"]),
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/@file/{rest:path}", file_endpoint, methods=["GET", "HEAD"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
            Mount("/", BundleFiles(config)),
        ],
        middleware=[Middleware(AccessMiddleware, access=Access(config.token, loopback=config.loopback))],
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.state.config = config
    return app
