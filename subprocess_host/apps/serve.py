"""``amphi run a.py b.py`` and ``amphi run DIR/ [--watch]``: the multi-app server under uvicorn.

Prints the URL (``http://127.0.0.1:PORT/?token=...``, the index page) on stdout once
listening, serves until Ctrl-C or SIGTERM, then stops every session and app process (the
``shutdown`` handshake; app processes ignore the terminal's SIGINT) and returns 0.  Errors are
one line on stderr and status 1.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from subprocess_host.apps.asgi import AppServer, AppServerBuilder
from subprocess_host.apps.catalog import NOTEBOOK_SUFFIXES, names_for, scan_directory
from subprocess_host.server.runner import (
    GRACEFUL_SHUTDOWN_SECONDS,
    WS_MAX_FRAME_BYTES,
    _Server,
    bind_socket,
    display_url,
)


class AppsUsageError(ValueError):
    """The command line names something that cannot be served (one line)."""


def build_from_paths(paths: list[Path], *, watch: bool, token: str | None, host: str,
                     python: str | None = None, **options: Any) -> AppServer:
    """The server for ``amphi run`` with several notebooks or a directory.

    A single directory with ``watch`` is a dynamic directory at ``/``; otherwise every
    notebook found now is an app named by :func:`names_for`.

    ``options`` go to :class:`AppServerBuilder` (``instance_id``, ``session_grace``,
    ``app_directory``...).

    Raises:
        AppsUsageError: a path that does not exist or is not a notebook.
        ValueError: an invalid option.
    """
    builder = AppServerBuilder(token, host=host, python=python, **options)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            if watch and len(paths) == 1:
                builder.with_dynamic_directory("/", path)
                return builder.build()
            files.extend(scan_directory(path))
        elif path.suffix.lower() in NOTEBOOK_SUFFIXES and path.is_file():
            files.append(path)
        else:
            raise AppsUsageError(f"no such notebook or directory: {path}")
    if not files:
        raise AppsUsageError("no notebooks to serve")
    for name, file in names_for(files).items():
        builder.with_app("/" + name, file)
    return builder.build()


def serve_apps(paths: list[Path], *, watch: bool = False, host: str = "127.0.0.1", port: int = 0,
               token: str | None = None, no_token: bool = False, python: str | None = None,
               instance_id: str | None = None, session_grace: float = 60.0, app_directory: str | None = None,
               **options: Any) -> int:
    """Serve until Ctrl-C or SIGTERM (see the module docstring); returns the exit status.

    Several instances behind a load balancer: give each ``instance_id`` and the same
    ``app_directory`` (``"default"``: under the user's runtime directory); ``options`` go to
    :class:`AppServerBuilder`."""
    from subprocess_host.server.serve import _configure_logging

    _configure_logging()
    if token is not None and not token:
        print("amphi: error: the access token must not be empty (use --no-token)", file=sys.stderr)
        return 1
    chosen = None if no_token else (token or secrets.token_urlsafe(32))
    try:
        if app_directory is not None:
            options["app_directory"] = True if app_directory == "default" else Path(app_directory)
        app = build_from_paths(paths, watch=watch, token=chosen, host=host, python=python, instance_id=instance_id,
                               session_grace=session_grace, **options)
        sock = bind_socket(host, port)
    except (AppsUsageError, ValueError, OSError, ImportError) as exc:  # ImportError: no Ray for --provisioner ray
        print(f"amphi: error: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(_serve(app, sock, host, chosen))


async def _serve(app: AppServer, sock: object, host: str, token: str | None) -> int:
    import uvicorn

    server = _Server(uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, server_header=False, ws="websockets-sansio",
        ws_max_size=WS_MAX_FRAME_BYTES, ws_per_message_deflate=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    ))
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    serving = loop.create_task(server.serve(sockets=[sock]))  # type: ignore[list-item]
    try:
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            port = sock.getsockname()[1]  # type: ignore[attr-defined]
            print(f"amphi: serving {len(app.catalog.entries())} notebook(s); Ctrl-C to stop", file=sys.stderr)
            print(display_url(host, port, token), flush=True)
        await serving
    finally:
        await app.close()
        sock.close()  # type: ignore[attr-defined]
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0 if server.started else 1
