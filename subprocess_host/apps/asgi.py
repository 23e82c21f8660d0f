"""The multi-app server as an ASGI application, and its public builder :func:`create_asgi_app`.

::

    from subprocess_host import create_asgi_app

    app = (create_asgi_app(token=None)
           .with_app(path="/sales", notebook="sales.py")
           .with_dynamic_directory(path="/apps", directory="apps/")
           .build())
    # uvicorn.run(app) -- or Mount("/notebooks", app=app) inside Starlette/FastAPI

Routes (relative to where the application is mounted):

* ``GET /`` (unless an app sits at ``/``): the index page, every notebook with its title;
* ``GET <app>`` redirects to ``<app>/``; ``GET <app>/``: the app's page (the built frontend,
  its WebSocket path relative: ``ws``), or one error page for that app (notebook missing or
  unreadable, a cell with a syntax error, an app process that does not start);
* ``<app>/ws``: a reader's WebSocket (:mod:`subprocess_host.server.ws`);
* ``<app>/@file/<id>-<name>``: the reader's virtual files, read from the app process's shared
  memory (:mod:`subprocess_host.server.files`);
* ``<app>/<asset>`` and ``/static/...``: the frontend bundle.

Every response carries ``X-Served-By: <instance id>`` and ``GET /health`` answers without a
token (:mod:`subprocess_host.apps.relay`, for a load balancer).  Several instances can serve
the same apps behind HAProxy (``deploy/``): give each its ``instance_id`` and one shared
``app_directory`` (:mod:`subprocess_host.apps.directory`); readers' sessions then live in the
shared app processes and any instance resumes any of them.

Each app is a small Starlette application (its own
:class:`~subprocess_host.apps.session.AppSessionManager` as ``app.state.manager``), created
on first use; all share one :class:`~subprocess_host.apps.pool.AppPool` of app processes.
The lifespan's shutdown (or :meth:`AppServer.close`, which a host application mounting this
one must call from its own lifespan: Starlette does not run a mounted app's lifespan) stops
every session and app process.  Access control is
:class:`~subprocess_host.server.auth.AccessMiddleware` (``token=None``: none).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from lifecycle.notebook import NotebookFormatError
from subprocess_host.apps import wire
from subprocess_host.apps.catalog import (
    AppCatalog,
    AppEntry,
    NotebookProblem,
    check_notebook,
    notebook_title,
)
from subprocess_host.apps.directory import AppDirectory, LocalDirectory
from subprocess_host.apps.pool import AppPool
from subprocess_host.apps.provisioner import AppProvisioner, AppStartError
from subprocess_host.apps.relay import InstanceMiddleware
from subprocess_host.apps.resync import stable_cell_ids
from subprocess_host.apps.session import AppSessionManager
from subprocess_host.server.app import BundleFiles
from subprocess_host.server.auth import (
    SESSION_COOKIE,
    Access,
    AccessMiddleware,
    cookie_header,
    parse_cookies,
)
from subprocess_host.server.config import STATIC_DIR, ServerConfig, default_web_dist
from subprocess_host.server.files import file_endpoint
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.page import PAGE_HEADERS, render_bundle_page, render_minimal_page
from subprocess_host.server.registry import is_valid_key, new_key
from subprocess_host.server.ws import websocket_endpoint

log = logging.getLogger("amphikernel.apps")

_ERROR_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}: cannot start</title></head>'
    '<body><h1>{title} cannot start</h1><p class="amphi-app-error">{message}</p>'
    '<p><a href="{index}">All notebooks</a></p></body></html>'
)


def error_page(title: str, message: str, status: int = 500, index: str = "../") -> HTMLResponse:
    """The one error page of an app (escaped ``title`` and ``message``)."""
    body = _ERROR_PAGE.format(title=html.escape(title), message=html.escape(message), index=html.escape(index))
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


class _App:
    """One app: its entry, its session manager and its Starlette sub-application."""

    def __init__(self, server: AppServer, entry: AppEntry) -> None:
        self.server, self.entry = server, entry
        self.manager: AppSessionManager | None = None
        self.asgi: Starlette | None = None
        self.problem: str | None = None

    def load(self) -> None:
        """Open the notebook and build the sub-application (idempotent; a problem is kept
        in :attr:`problem`)."""
        if self.asgi is not None:
            return
        entry = self.entry
        try:
            if not entry.notebook.is_file():
                raise NotebookProblem(f"no such notebook: {entry.notebook}")
            document = NotebookDocument.open(entry.notebook, create=False)
            check_notebook(document.notebook)
            stable_cell_ids(document.notebook.cells, str(entry.notebook.resolve()))
        except (NotebookProblem, NotebookFormatError, OSError, UnicodeDecodeError) as exc:
            self.problem = str(exc)
            return
        self.problem = None
        config = replace(self.server.config, notebook=entry.notebook, root=entry.notebook.parent,
                         python=entry.python or self.server.config.python)
        self.manager = AppSessionManager(config, document, self.server.pool, entry.path or "/")
        app = Starlette(routes=[
            Route("/", self.page, methods=["GET", "HEAD"]),
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/@file/{rest:path}", file_endpoint, methods=["GET", "HEAD"]),
            Mount("/", BundleFiles(config)),
        ])
        app.state.manager = self.manager
        app.state.config = config
        self.asgi = app

    @property
    def title(self) -> str:
        if self.manager is not None:
            return notebook_title(self.manager.main_document.notebook, self.entry.notebook.stem)
        return self.entry.notebook.stem

    async def page(self, request: Request) -> Response:
        """The app's page; its app process is started first, so that a process that does
        not start gives the error page."""
        assert self.manager is not None
        manager = self.manager
        try:
            await self.server.pool.acquire(manager.app, self.entry.notebook, manager.config.python,
                                           manager.main_document.notebook.semantics)
        except (AppStartError, RuntimeError) as exc:
            log.error("app %s: %s", manager.app, exc)
            return error_page(self.title, str(exc), 500 if isinstance(exc, AppStartError) else 503)
        document = manager.main_document
        values = {"mode": "run", "path": str(document.path), "file": "", "ws": "ws"}
        index: Path = manager.config.web_dist / "index.html"
        if index.is_file():
            body = render_bundle_page(index.read_text(encoding="utf-8"), values)
        else:
            body = render_minimal_page(document, values, index)
        presented = parse_cookies(request.scope["headers"]).get(SESSION_COOKIE)
        key = presented if presented is not None and is_valid_key(presented) else new_key()
        response = HTMLResponse(body, headers=PAGE_HEADERS)
        response.raw_headers.append(cookie_header(SESSION_COOKIE, key))
        return response

    async def close(self) -> None:
        if self.manager is not None:
            await self.manager.close()


class AppServer:
    """The ASGI application :func:`create_asgi_app` builds (see the module docstring).

    Attributes:
        pool: the app processes.
        catalog: the apps served.
    """

    def __init__(self, catalog: AppCatalog, config: ServerConfig, provisioner: type[AppProvisioner] | None = None,
                 *, directory: AppDirectory | None = None, instance_id: str | None = None,
                 session_grace: float = 60.0) -> None:
        self.catalog = catalog
        self.config = config
        self.pool = AppPool(provisioner, ready_timeout=config.kernel_ready_timeout, directory=directory,
                            instance_id=instance_id, grace=session_grace)
        self.instance_id = self.pool.instance_id
        self.apps: dict[str, _App] = {}
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.starlette = Starlette(
            routes=[Mount("/static", StaticFiles(directory=STATIC_DIR)), Mount("/", self.dispatch)],
            middleware=[_access_middleware(config)],
            lifespan=self._lifespan,
        )
        self._outer = InstanceMiddleware(self.starlette, self.instance_id, lambda: self._closed)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._outer(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.close()

    # ------------------------------------------------------------------ apps
    def _current(self) -> dict[str, AppEntry]:
        entries = self.catalog.entries()
        for key in [k for k in self.apps if k not in entries]:  # removed from a watched directory
            gone = self.apps.pop(key)
            log.info("app %s: notebook removed; stopping it", key or "/")
            task = asyncio.get_running_loop().create_task(self._retire(gone))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return entries

    async def _retire(self, app: _App) -> None:
        await app.close()
        await self.pool.stop_app(app.entry.path or "/")

    def app_for(self, entry: AppEntry) -> _App:
        app = self.apps.get(entry.path)
        if app is None or app.entry != entry:
            app = self.apps[entry.path] = _App(self, entry)
        app.load()
        return app

    def index(self, entries: dict[str, AppEntry]) -> Response:
        """The list of notebooks with their titles."""
        items = []
        for key, entry in sorted(entries.items()):
            app = self.app_for(entry)
            note = f' <span class="amphi-app-problem">({html.escape(app.problem)})</span>' if app.problem else ""
            items.append(f'<li><a href="{html.escape(key.lstrip("/"))}/">{html.escape(app.title)}</a> '
                         f"<code>{html.escape(entry.notebook.name)}</code>{note}</li>")
        body = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Notebooks</title></head>'
                f'<body><h1>Notebooks</h1><ul class="amphi-index">{"".join(items) or "<li>(none)</li>"}</ul></body></html>')
        return HTMLResponse(body, headers=PAGE_HEADERS)

    async def dispatch(self, scope: Any, receive: Any, send: Any) -> None:
        """Hand a request to the app its path names."""
        from starlette._utils import get_route_path

        route_path = get_route_path(scope)
        entries = self._current()
        if route_path in ("", "/") and "" not in entries:
            if scope["type"] == "http":
                await self.index(entries)(scope, receive, send)
            return
        found = self.catalog.resolve(route_path)
        if found is None:
            if scope["type"] == "http":
                await PlainTextResponse("404 Not Found\n", status_code=404)(scope, receive, send)
            return
        entry, rest = found
        if rest == "" and scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope.get("root_path", "") + entry.path + "/" + (f"?{query}" if query else "")
            await RedirectResponse(target, status_code=307)(scope, receive, send)
            return
        app = self.app_for(entry)
        if app.asgi is None:
            if scope["type"] == "http":
                await error_page(entry.notebook.stem, app.problem or "cannot load")(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        child = dict(scope, root_path=root_path + entry.path, app_root_path=scope.get("app_root_path", root_path))
        await app.asgi(child, receive, send)

    async def close(self) -> None:
        """Stop every session and app process (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(a.close() for a in self.apps.values()), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.close()


def _access_middleware(config: ServerConfig) -> Any:
    from starlette.middleware import Middleware

    return Middleware(AccessMiddleware, access=Access(config.token, loopback=config.loopback))


class AppServerBuilder:
    """Collects apps, then :meth:`build` makes the :class:`AppServer`.

    Args:
        token: access token the server requires (``None``: none, e.g. when the host
            application does its own authentication).
        host: the address the server is bound to (loopback enables the ``Host`` check).
        python: default interpreter for app processes (``None``: this one).
        web_dist: the built frontend directory (default: the packaged one).
        kernel_ready_timeout: seconds an app process / kernel may take to start.
        provisioner: the :class:`AppProvisioner` class placing app processes
            (default :class:`~subprocess_host.apps.provisioner.LocalProvisioner`), or
            ``"ray"``: every app process a detached named actor on the Ray cluster at
            ``ray_address`` (:mod:`subprocess_host.apps.ray_provisioner`, ``amphikernel[ray]``),
            shared by every instance using the same cluster and ``ray_namespace``
            (``app_directory`` is then ignored).
        ray_address: the Ray cluster (``host:port`` of its head; ``None``: ``RAY_ADDRESS``
            or the local one).
        ray_namespace: the Ray namespace of the deployment's actors (default ``"amphikernel"``).
        instance_id: this server instance's id (``X-Served-By``, ZeroMQ routing id; 1-64
            URL-safe characters; default random).
        session_grace: seconds a reader's session is kept after its connection closes, for
            the reader to resume it (through any instance sharing the apps); 0: stopped at once.
        app_directory: share app processes with other server instances: an
            :class:`~subprocess_host.apps.directory.AppDirectory`, or a directory path for a
            :class:`~subprocess_host.apps.directory.LocalDirectory` (``True``: its default
            place under the user's runtime directory).
    """

    def __init__(self, token: str | None = None, *, host: str = "127.0.0.1", python: str | None = None,
                 web_dist: Path | None = None, kernel_ready_timeout: float = 60.0,
                 provisioner: type[AppProvisioner] | str | None = None, instance_id: str | None = None,
                 session_grace: float = 60.0, app_directory: AppDirectory | Path | str | bool | None = None,
                 ray_address: str | None = None, ray_namespace: str | None = None) -> None:
        if instance_id is not None and not wire.is_routing_id(instance_id):
            raise ValueError(f"invalid instance id {instance_id!r}: 1-64 letters, digits, '-' or '_'")
        if session_grace < 0:
            raise ValueError("session_grace must be >= 0 seconds")
        self.catalog = AppCatalog()
        if provisioner == "ray":
            from subprocess_host.apps.ray_provisioner import DEFAULT_NAMESPACE, RayDirectory

            app_directory, provisioner = RayDirectory(ray_address, ray_namespace or DEFAULT_NAMESPACE), None
        elif isinstance(provisioner, str) and provisioner != "local":
            raise ValueError(f"unknown provisioner {provisioner!r} (local or ray)")
        self.provisioner = provisioner if not isinstance(provisioner, str) else None
        self.instance_id = instance_id
        self.session_grace = session_grace
        if app_directory is True:
            app_directory = LocalDirectory()
        elif isinstance(app_directory, (str, Path)):
            app_directory = LocalDirectory(Path(app_directory))
        self.directory: AppDirectory | None = app_directory or None
        self.config = ServerConfig(
            mode="run", notebook=Path.cwd() / "index.py", root=Path.cwd(), host=host, port=0, token=token,
            python=python, open_browser=False, web_dist=Path(web_dist) if web_dist else default_web_dist(),
            max_tab_backlog_bytes=256 * 1024 * 1024, kernel_ready_timeout=kernel_ready_timeout,
        )

    def with_app(self, path: str, notebook: str | Path, python: str | None = None) -> AppServerBuilder:
        """Serve ``notebook`` at ``path`` (e.g. ``"/sales"``), optionally with its own
        interpreter (a venv's ``bin/python``).

        Raises:
            ValueError: an invalid or duplicate path.
        """
        self.catalog.add_app(path, Path(notebook), python)
        return self

    def with_dynamic_directory(self, path: str, directory: str | Path, python: str | None = None) -> AppServerBuilder:
        """Serve every notebook below ``directory`` at ``path/<relative name>``; files
        added or removed later are picked up.

        Raises:
            ValueError: an invalid path or not a directory.
        """
        self.catalog.add_directory(path, Path(directory), python)
        return self

    def build(self) -> AppServer:
        """The ASGI application."""
        return AppServer(self.catalog, self.config, self.provisioner, directory=self.directory,
                         instance_id=self.instance_id, session_grace=self.session_grace)


def create_asgi_app(token: str | None = None, **options: Any) -> AppServerBuilder:
    """A builder for an ASGI application serving several notebooks, each as an app with
    its own OS process (arguments: :class:`AppServerBuilder`)."""
    return AppServerBuilder(token, **options)
