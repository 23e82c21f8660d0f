"""Options of the local server (``amphi edit`` / ``amphi run``) and their resolved form.

:class:`ServerOptions` is what the command line fills in; :func:`resolve_options` checks it and
returns a :class:`ServerConfig` (token chosen, paths made absolute) that the application uses.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["edit", "run"]

REPO_ROOT = Path(__file__).resolve().parents[2]

# static/ stays at the top of subprocess_host/ (package data of subprocess_host, see pyproject).
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
"""The minimal page served while the frontend bundle is not built."""

DEFAULT_WEB_DIST = STATIC_DIR / "app"
"""Where ``npm run build`` (in ``web/``) writes the frontend bundle, shipped in the wheel;
``/`` serves its ``index.html`` when it exists."""

SOURCE_TREE_WEB_DIST = REPO_ROOT / "web" / "dist"
"""A bundle built into the source tree's ``web/dist``, used when the packaged one is absent."""

NOTEBOOK_SUFFIXES = (".py", ".ipynb")


class ServerConfigError(ValueError):
    """The options cannot start a server (message is one user-facing line)."""


@dataclass(frozen=True)
class ServerOptions:
    """What ``amphi edit`` / ``amphi run`` pass to :func:`subprocess_host.server.serve_notebook`.

    Attributes:
        mode: ``"edit"`` (one kernel subprocess per open notebook, shared by its tabs) or
            ``"run"`` (app mode: one kernel thread per WebSocket connection, code read-only).
        notebook: the notebook file (percent ``.py`` or ``.ipynb``); created if missing in
            edit mode.
        host: address to bind (default loopback).
        port: TCP port; ``0`` picks a free one.
        token: access token; ``None`` draws a random one (``secrets.token_urlsafe``).
        no_token: serve without an access token.
        python: interpreter for edit-mode kernel subprocesses (``None``: this one).
        open_browser: open the URL in a browser once the server listens.
        web_dist: directory of the built frontend bundle (``None``: :func:`default_web_dist`).
        max_tab_backlog_bytes: a tab whose unsent frames exceed this many bytes is
            disconnected (it resynchronises when it reconnects).
        kernel_ready_timeout: seconds a kernel may take to become ready.
    """

    mode: Mode
    notebook: Path
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    no_token: bool = False
    python: str | None = None
    open_browser: bool = True
    web_dist: Path | None = None
    max_tab_backlog_bytes: int = 256 * 1024 * 1024
    kernel_ready_timeout: float = 60.0


@dataclass(frozen=True)
class ServerConfig:
    """Checked, resolved options.

    Attributes:
        mode: ``"edit"`` or ``"run"``.
        notebook: absolute path of the main notebook.
        root: directory other notebooks may be opened from (edit mode, ``?file=``): the main
            notebook's directory.
        host, port: where to bind (``port`` 0: any free port).
        token: the access token, or ``None`` when the server runs without one.
        python: kernel interpreter (edit mode) or ``None``.
        open_browser: open a browser once listening.
        web_dist: built frontend directory (may not exist).
        max_tab_backlog_bytes: see :class:`ServerOptions`.
        kernel_ready_timeout: seconds.
    """

    mode: Mode
    notebook: Path
    root: Path
    host: str
    port: int
    token: str | None
    python: str | None
    open_browser: bool
    web_dist: Path
    max_tab_backlog_bytes: int
    kernel_ready_timeout: float

    @property
    def loopback(self) -> bool:
        """Whether the bind address is a loopback address."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts local connections."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_web_dist() -> Path:
    """The bundle directory to serve: :data:`DEFAULT_WEB_DIST` unless only
    :data:`SOURCE_TREE_WEB_DIST` holds an ``index.html``.  When neither does yet, the
    packaged directory: every page load looks for its ``index.html`` again, so a build made
    while the server runs is served on the next reload."""
    if not (DEFAULT_WEB_DIST / "index.html").is_file() and (SOURCE_TREE_WEB_DIST / "index.html").is_file():
        return SOURCE_TREE_WEB_DIST
    return DEFAULT_WEB_DIST


def resolve_options(options: ServerOptions) -> ServerConfig:
    """Check ``options`` and resolve them.

    Raises:
        ServerConfigError: unknown mode, a notebook suffix other than ``.py``/``.ipynb``, a
            missing notebook in run mode, a missing parent directory, an empty token, or a
            port outside 0-65535.
    """
    if options.mode not in ("edit", "run"):
        raise ServerConfigError(f"unknown mode {options.mode!r} (expected 'edit' or 'run')")
    notebook = Path(options.notebook).expanduser().absolute()
    if notebook.suffix.lower() not in NOTEBOOK_SUFFIXES:
        raise ServerConfigError(f"{options.notebook}: a notebook must be a .py or .ipynb file")
    if notebook.is_dir():
        raise ServerConfigError(f"{options.notebook} is a directory, not a notebook")
    if options.mode == "run" and not notebook.exists():
        raise ServerConfigError(f"no such notebook: {options.notebook}")
    if not notebook.parent.is_dir():
        raise ServerConfigError(f"no such directory: {notebook.parent}")
    if not 0 <= options.port <= 65535:
        raise ServerConfigError(f"invalid port {options.port} (expected 0-65535)")
    if options.no_token:
        token = None
    elif options.token is not None:
        if not options.token:
            raise ServerConfigError("the access token must not be empty (use --no-token)")
        token = options.token
    else:
        token = secrets.token_urlsafe(32)
    return ServerConfig(
        mode=options.mode,
        notebook=notebook,
        root=notebook.parent,
        host=options.host,
        port=options.port,
        token=token,
        python=options.python,
        open_browser=options.open_browser,
        web_dist=Path(options.web_dist) if options.web_dist is not None else default_web_dist(),
        max_tab_backlog_bytes=options.max_tab_backlog_bytes,
        kernel_ready_timeout=options.kernel_ready_timeout,
    )
