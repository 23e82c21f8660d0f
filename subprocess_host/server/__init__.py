"""The local server behind ``amphi edit`` and ``amphi run``: a Starlette application served by
uvicorn that opens a notebook, starts its kernels and talks to the browser tabs; one job per
module: ``serve`` (the entry point :func:`serve_notebook`), ``config`` (options and their
checked form), ``runner`` (uvicorn, socket binding, stopping), ``app`` (routes and lifespan),
``auth`` (token, cookies, Host and Origin checks), the three endpoints ``page`` (the notebook
page), ``ws`` (the WebSocket of a tab) and ``files`` (virtual files, with HTTP byte ranges from
``ranges``), ``registry`` (sessions and browser keys), ``session`` (what a session does, no
HTTP), ``policy`` (what each mode lets a page send), ``replay`` (what a reconnecting tab is
sent), ``notebook`` (the notebook a session edits and saves), ``kernels`` and ``vfiles``
(kernels and their virtual files) and ``messages`` (the host-level message types).  May import:
:mod:`lifecycle`, :mod:`subprocess_host.client`, :mod:`subprocess_host.channels`,
:mod:`subprocess_host.thread_kernel`, starlette, uvicorn and pyzmq; never :mod:`pyodide_host`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifecycle.import_hooks import lazy_exports

if TYPE_CHECKING:
    from subprocess_host.server.app import create_app
    from subprocess_host.server.config import ServerConfig, ServerOptions
    from subprocess_host.server.runner import ServerRunner
    from subprocess_host.server.serve import serve_notebook

__all__ = ["ServerConfig", "ServerOptions", "ServerRunner", "create_app", "serve_notebook"]

# The names above are imported on first use (PEP 562), so that importing a light submodule such
# as ``subprocess_host.server.config`` (the bundle path, used by the islands and the tests) does
# not pull in starlette, uvicorn and the kernel machinery.
_SOURCES = {
    "ServerConfig": "config",
    "ServerOptions": "config",
    "ServerRunner": "runner",
    "create_app": "app",
    "serve_notebook": "serve",
}


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
